//! A loaded model — config, tokenizer and weights — and everything the panels ask of it:
//! traces, predictions, the logit lens and gradient×input saliency.
use candle_core::{DType, IndexOp, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::bert::Bert;
use super::checkpoint::{ByteSource, Checkpoint};
use super::config::{Architecture, ModelConfig};
use super::error::{describe_candle_error, weights_error, EngineError, Result};
use super::forward::ForwardPass;
use super::gguf;
use super::gpt2::Gpt2;
use super::llama::Llama;
use super::tokenizer::{TextTokenizer, TokenizedText};
use super::trace::{Array, LayerTensors, PageTrace, Trace};
use super::{distilbert, Device};

/// The forward pass of whichever architecture was loaded.
enum Network {
    Gpt2(Gpt2),
    Encoder(Bert),
    Llama(Llama),
}

/// A model ready to run.
pub struct Model {
    /// The numbers read from config.json.
    pub config: ModelConfig,
    /// The model's tokenizer.
    pub tokenizer: TextTokenizer,
    /// Number of weights in the checkpoint (buffers such as position ids excluded).
    pub parameter_count: usize,
    network: Network,
    warnings: Vec<String>,
}

/// One candidate token with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Token id.
    pub token_id: u32,
    /// Display string.
    pub token: String,
    /// The text it adds to a sentence.
    pub text: String,
    /// softmax(logits / temperature) for this token.
    pub probability: f32,
    /// The raw logit.
    pub logit: f32,
}

/// What [`Model::page_trace`] returns.
#[derive(Debug, Clone)]
pub struct PageTraceParts {
    /// What the page receives first.
    pub trace: PageTrace,
    /// Every layer's attention internals, for the layer the page shows and any it asks for.
    pub layers: Vec<LayerTensors>,
    /// The logits where the model predicts, when it can predict here.
    pub predicted: Option<PredictionLogits>,
}

/// Top-k candidates at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionPredictions {
    /// Token position the prediction is for.
    pub position: usize,
    /// Most probable first.
    pub candidates: Vec<Candidate>,
}

/// Logits where the model predicts: one row [vocab] per position.
#[derive(Debug, Clone)]
pub struct PredictionLogits {
    /// The predicted positions: a decoder's last, or each [MASK].
    pub positions: Vec<usize>,
    /// [positions, vocab].
    pub rows: Tensor,
}

/// What the model predicts: the next token (decoders) or each [MASK] (masked LMs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Predictions {
    /// Next-token candidates after the last position.
    NextToken(PositionPredictions),
    /// Fills for every mask position, in order.
    MaskFill(Vec<PositionPredictions>),
}

/// One layer of the logit lens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensLayer {
    /// 0 = embeddings, i = after block i.
    pub layer: usize,
    /// Top-k tokens if the model stopped here.
    pub top: Vec<Candidate>,
    /// Rank (1 = top) of the final prediction at this layer.
    pub final_token_rank: usize,
}

/// The final norm and LM head applied to every layer's residual stream at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitLens {
    /// The position read.
    pub position: usize,
    /// The model's final top-1 token at that position.
    pub final_token_id: u32,
    /// One entry per residual stream: n_layer + 1.
    pub layers: Vec<LensLayer>,
}

/// Gradient×input saliency of one target logit over the input tokens (Ecco's definition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saliency {
    /// Position whose logit was differentiated.
    pub position: usize,
    /// Token whose (pre-softmax) logit was differentiated.
    pub target_id: u32,
    /// Its display string.
    pub target_token: String,
    /// ‖∂logit/∂eᵢ ⊙ eᵢ‖₂ per input token, divided by their sum (shares sum to 1).
    pub scores: Vec<f32>,
}

impl Model {
    /// Loads config.json, tokenizer.json and model.safetensors from memory.
    pub fn from_bytes(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
    ) -> Result<Self> {
        Self::from_source(config_json, tokenizer_json, safetensors)
    }

    /// Builds the model from config.json and tokenizer.json bytes and a safetensors file read
    /// tensor by tensor from `weights` (in the browser: the downloaded file in JS memory).
    pub fn from_source<S: ByteSource + ?Sized>(
        config_json: &[u8],
        tokenizer_json: &[u8],
        weights: &S,
    ) -> Result<Self> {
        let config = ModelConfig::from_json(config_json)?;
        let tokenizer = TextTokenizer::from_json(tokenizer_json)?;
        let checkpoint = Checkpoint::from_source(weights)?;
        Self::from_parts(config, tokenizer, checkpoint)
    }

    /// Loads a Llama-family model from one .gguf file (weights, numbers and tokenizer), read
    /// from `source` and dequantised to f32.
    pub fn from_gguf<S: ByteSource + ?Sized>(source: &S) -> Result<Self> {
        let file = gguf::read(source)?;
        Self::from_parts(file.config, file.tokenizer, file.checkpoint)
    }

    /// Loads the three files from a directory (native only: the browser has no filesystem,
    /// and there this returns the read error).
    /// A folder holding `model.gguf` (or a path to a .gguf file) loads that file instead.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self> {
        let gguf_file = if dir.extension().is_some_and(|e| e == "gguf") {
            Some(dir.to_path_buf())
        } else {
            Some(dir.join("model.gguf")).filter(|path| path.is_file())
        };
        if let Some(path) = gguf_file {
            let bytes = std::fs::read(&path)
                .map_err(|e| EngineError::Input(format!("cannot read {}: {e}", path.display())))?;
            return Self::from_gguf(bytes.as_slice());
        }
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                EngineError::Input(format!("cannot read {}: {e}", dir.join(name).display()))
            })
        };
        Self::from_bytes(
            &read("config.json")?,
            &read("tokenizer.json")?,
            &read("model.safetensors")?,
        )
    }

    /// What the user should know about the loaded files although they load (e.g. NaN weights).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Builds the network from an already parsed checkpoint.
    pub fn from_parts(
        config: ModelConfig,
        tokenizer: TextTokenizer,
        checkpoint: Checkpoint,
    ) -> Result<Self> {
        super::tune_matmul();
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(EngineError::Tokenizer(format!(
                "it has {} tokens but the model's embedding has only {} rows: the tokenizer belongs \
                 to a different model",
                tokenizer.vocab_size(),
                config.vocab_size
            )));
        }
        let parameter_count = checkpoint.parameter_count();
        let warnings = non_finite_warning(&checkpoint.non_finite_tensors()?)
            .into_iter()
            .collect();
        let network = match config.architecture {
            Architecture::Gpt2 => {
                Network::Gpt2(Gpt2::load(checkpoint, &config).map_err(weights_error)?)
            }
            Architecture::Bert => {
                Network::Encoder(Bert::load(checkpoint, &config).map_err(weights_error)?)
            }
            Architecture::DistilBert => {
                Network::Encoder(distilbert::load(checkpoint, &config).map_err(weights_error)?)
            }
            Architecture::Llama => Network::Llama(
                Llama::load(checkpoint, &config)
                    .map_err(|e| EngineError::Gguf(describe_candle_error(&e)))?,
            ),
        };
        Ok(Model {
            config,
            tokenizer,
            parameter_count,
            network,
            warnings,
        })
    }

    /// Tokenizes text the way the model expects it.
    pub fn tokenize(&self, text: &str) -> Result<TokenizedText> {
        self.tokenizer.encode(text)
    }

    /// Whether the model can predict tokens (GPT-2, or an encoder with its masked-LM head).
    pub fn has_prediction_head(&self) -> bool {
        match &self.network {
            Network::Gpt2(_) | Network::Llama(_) => true,
            Network::Encoder(bert) => bert.has_head(),
        }
    }

    /// The full trace: every layer's and head's Q, K, V, scores, probabilities, outputs, the
    /// residual stream and the logits at every position.
    pub fn trace(&self, ids: &[u32]) -> Result<Trace> {
        let input = self.input_tensor(ids)?;
        let token_embeddings = self.embed_tokens(&input)?;
        let pass = self.forward(&token_embeddings, true)?;
        let logits = if self.has_prediction_head() {
            Some(self.lm_head(&pass.final_hidden)?)
        } else {
            None
        };
        self.trace_of(ids, &token_embeddings, &pass, logits.as_ref(), true)
    }

    /// The tokens' display strings.
    fn display_tokens(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&id| self.tokenizer.display_token(id))
            .collect()
    }

    /// Copies a recorded pass out as a [`Trace`] with the tokens' display strings (and the MLP's
    /// hidden layer when `with_mlp_activations`).
    fn trace_of(
        &self,
        ids: &[u32],
        token_embeddings: &Tensor,
        pass: &ForwardPass,
        logits: Option<&Tensor>,
        with_mlp_activations: bool,
    ) -> Result<Trace> {
        Trace::from_forward(
            &self.config,
            ids.to_vec(),
            self.display_tokens(ids),
            token_embeddings,
            pass,
            logits,
            with_mlp_activations,
        )
    }

    /// The trace the page needs ([`PageTrace`]), the attention internals of every layer kept as
    /// tensors for [`LayerTensors::to_layer_trace`], and the logits where the model predicts (the
    /// last position of a decoder, each [MASK] of a masked LM), for the predictions and their
    /// re-scoring. No all-positions logits: the page shows no other position's, and the LM head
    /// over every position is a large share of a short text's forward pass (GPT-2: 768 × 50,257
    /// multiply-adds per token). Nor the MLP's hidden layer, which no panel shows. The logits are
    /// `None` when the model cannot predict here (no head, or no [MASK] in the text).
    pub fn page_trace(&self, ids: &[u32]) -> Result<PageTraceParts> {
        let input = self.input_tensor(ids)?;
        let token_embeddings = self.embed_tokens(&input)?;
        let pass = self.forward(&token_embeddings, true)?;
        let predicted = match self.default_positions(ids) {
            Ok(positions) => Some(self.logits_at(&pass.final_hidden, positions)?),
            Err(_) => None,
        };
        let tokens = self.display_tokens(ids);
        Ok(PageTraceParts {
            trace: PageTrace::from_forward(
                &self.config,
                ids.to_vec(),
                tokens,
                &token_embeddings,
                &pass,
            )?,
            layers: pass.layers.iter().map(LayerTensors::of).collect(),
            predicted,
        })
    }

    /// Top-k predictions without recording a trace: the LM head runs only where it is needed.
    pub fn predict(&self, ids: &[u32], k: usize, temperature: f32) -> Result<Predictions> {
        self.predictions_from_rows(&self.prediction_logits(ids)?, k, temperature)
    }

    /// The logits where the model predicts, without a trace (the LM head runs only there).
    pub fn prediction_logits(&self, ids: &[u32]) -> Result<PredictionLogits> {
        let positions = self.default_positions(ids)?;
        let pass = self.forward(&self.embed_tokens(&self.input_tensor(ids)?)?, false)?;
        self.logits_at(&pass.final_hidden, positions)
    }

    fn logits_at(&self, final_hidden: &Tensor, positions: Vec<usize>) -> Result<PredictionLogits> {
        let index: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        let index = Tensor::new(index.as_slice(), final_hidden.device())?;
        let rows = self.lm_head(&final_hidden.index_select(&index, 0)?)?;
        Ok(PredictionLogits { positions, rows })
    }

    /// The logits at every position [tokens, vocab] (what a trace records), without the trace.
    pub fn logits(&self, ids: &[u32]) -> Result<Tensor> {
        let pass = self.forward(&self.embed_tokens(&self.input_tensor(ids)?)?, false)?;
        self.lm_head_exists()?;
        self.lm_head(&pass.final_hidden)
    }

    /// Top-k predictions from logits already computed at the predicted positions, so a new
    /// temperature does not run the model again.
    pub fn predictions_from_rows(
        &self,
        logits: &PredictionLogits,
        k: usize,
        temperature: f32,
    ) -> Result<Predictions> {
        if logits.rows.dims() != [logits.positions.len(), self.config.vocab_size] {
            return Err(EngineError::Input(format!(
                "logits of shape {:?} do not belong to {} positions",
                logits.rows.dims(),
                logits.positions.len()
            )));
        }
        let mut per_position = logits
            .positions
            .iter()
            .enumerate()
            .map(|(row, &position)| {
                Ok(PositionPredictions {
                    position,
                    candidates: self.top_k(&logits.rows.i(row)?, k, temperature)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(if self.config.architecture.is_causal() {
            Predictions::NextToken(per_position.remove(0))
        } else {
            Predictions::MaskFill(per_position)
        })
    }

    /// One token's candidate entry from a logits row [vocab], its probability at `temperature`.
    pub fn candidate(&self, logits: &Tensor, token_id: u32, temperature: f32) -> Result<Candidate> {
        let probabilities = candle_nn::ops::softmax_last_dim(&(logits / temperature as f64)?)?;
        Ok(Candidate {
            token_id,
            token: self.tokenizer.display_token(token_id),
            text: self.tokenizer.token_text(token_id),
            probability: probabilities.i(token_id as usize)?.to_scalar::<f32>()?,
            logit: logits.i(token_id as usize)?.to_scalar::<f32>()?,
        })
    }

    /// Logits of the final norm + LM head applied to every residual stream at `position`
    /// [n_layer + 1, vocab] (row 0: the embeddings; the last row equals the final logits).
    pub fn lens_logits(&self, ids: &[u32], position: usize) -> Result<Tensor> {
        self.check_position(ids, position)?;
        let pass = self.forward(&self.embed_tokens(&self.input_tensor(ids)?)?, false)?;
        let rows = pass
            .residual_streams
            .iter()
            .map(|stream| stream.narrow(0, position, 1))
            .collect::<candle_core::Result<Vec<_>>>()?;
        self.lm_head(&self.final_norm(&Tensor::cat(&rows, 0)?)?)
    }

    /// The logit lens at `position` (default: where the model predicts): top-k per layer and
    /// the rank of the final prediction at every layer.
    pub fn logit_lens(&self, ids: &[u32], position: Option<usize>, k: usize) -> Result<LogitLens> {
        let position = match position {
            Some(position) => position,
            None => self.default_positions(ids)?[0],
        };
        let logits = self.lens_logits(ids, position)?;
        let n_rows = logits.dim(0)?;
        let final_token_id = logits
            .i(n_rows - 1)?
            .argmax(D::Minus1)?
            .to_scalar::<u32>()?;
        let layers = (0..n_rows)
            .map(|layer| {
                let row = logits.i(layer)?;
                let final_logit = row.i(final_token_id as usize)?;
                let above = row
                    .broadcast_gt(&final_logit)?
                    .to_dtype(DType::U32)?
                    .sum_all()?;
                Ok(LensLayer {
                    layer,
                    top: self.top_k(&row, k, 1.0)?,
                    final_token_rank: above.to_scalar::<u32>()? as usize + 1,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogitLens {
            position,
            final_token_id,
            layers,
        })
    }

    /// Gradient×input saliency (Ecco): the gradient of the target's logit at `position` with
    /// respect to the input token embeddings, times those embeddings, L2 norm per token,
    /// normalised to sum 1. Defaults: the prediction position and its top-1 token.
    pub fn saliency(
        &self,
        ids: &[u32],
        position: Option<usize>,
        target_id: Option<u32>,
    ) -> Result<Saliency> {
        let position = match position {
            Some(position) => position,
            None => self.default_positions(ids)?[0],
        };
        self.check_position(ids, position)?;
        self.lm_head_exists()?;
        let token_embeddings = Var::from_tensor(&self.embed_tokens(&self.input_tensor(ids)?)?)?;
        let pass = self.forward(token_embeddings.as_tensor(), false)?;
        let hidden_row = pass.final_hidden.narrow(0, position, 1)?;
        let vocab = self.config.vocab_size;
        let target_id = match target_id {
            Some(id) if (id as usize) < vocab => id,
            Some(id) => {
                return Err(EngineError::Input(format!(
                    "target token id {id} is outside the vocabulary of {vocab} tokens"
                )))
            }
            // The top-1 token, from logits outside the gradient graph.
            None => self
                .lm_head(&hidden_row.detach())?
                .squeeze(0)?
                .argmax(D::Minus1)?
                .to_scalar::<u32>()?,
        };
        // Only the target's logit is differentiated: one column of the head, not all of them.
        let gradients = self
            .target_logit(&hidden_row, target_id as usize)?
            .sum_all()?
            .backward()?;
        let gradient = gradients.get(token_embeddings.as_tensor()).ok_or_else(|| {
            EngineError::Compute("the target logit does not depend on the input embeddings".into())
        })?;
        let per_token = (gradient * token_embeddings.as_tensor())?
            .sqr()?
            .sum(D::Minus1)?
            .sqrt()?;
        let shares = per_token.broadcast_div(&per_token.sum_all()?)?;
        Ok(Saliency {
            position,
            target_id,
            target_token: self.tokenizer.display_token(target_id),
            scores: shares.to_vec1::<f32>()?,
        })
    }

    /// The model's learned position table [max_positions, d_model] (GPT-2 `wpe`, BERT
    /// `position_embeddings`); `None` for rotary models (Llama), which rotate queries and keys
    /// by position instead.
    pub fn position_table(&self) -> Result<Option<Array>> {
        Ok(match &self.network {
            Network::Gpt2(gpt2) => Some(Array::from_tensor(gpt2.position_table())?),
            Network::Encoder(bert) => Some(Array::from_tensor(bert.position_table())?),
            Network::Llama(_) => None,
        })
    }

    /// Where predictions are read: the last token for decoders, every mask for masked LMs.
    pub fn default_positions(&self, ids: &[u32]) -> Result<Vec<usize>> {
        self.lm_head_exists()?;
        if self.config.architecture.is_causal() {
            return match ids.len() {
                0 => Err(EngineError::Input(
                    "The text is empty: type a few words first.".into(),
                )),
                n => Ok(vec![n - 1]),
            };
        }
        let (mask_text, mask_id) = self.tokenizer.mask_token().ok_or_else(|| {
            EngineError::Tokenizer(
                "this masked language model's vocabulary has no mask token".into(),
            )
        })?;
        let positions: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id == mask_id)
            .map(|(i, _)| i)
            .collect();
        if positions.is_empty() {
            return Err(EngineError::Input(format!(
                "Input must include the mask token {mask_text}"
            )));
        }
        Ok(positions)
    }

    fn top_k(&self, logits: &Tensor, k: usize, temperature: f32) -> Result<Vec<Candidate>> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(EngineError::Input(format!(
                "temperature must be a positive number, not {temperature}"
            )));
        }
        let probabilities = candle_nn::ops::softmax_last_dim(&(logits / temperature as f64)?)?;
        let order = probabilities.arg_sort_last_dim(false)?;
        let k = k.min(logits.dim(0)?);
        let top_ids = order.narrow(0, 0, k)?.to_vec1::<u32>()?;
        let top_probabilities = probabilities
            .gather(&order.narrow(0, 0, k)?, 0)?
            .to_vec1::<f32>()?;
        let top_logits = logits
            .gather(&order.narrow(0, 0, k)?, 0)?
            .to_vec1::<f32>()?;
        Ok(top_ids
            .into_iter()
            .zip(top_probabilities)
            .zip(top_logits)
            .map(|((token_id, probability), logit)| Candidate {
                token_id,
                token: self.tokenizer.display_token(token_id),
                text: self.tokenizer.token_text(token_id),
                probability,
                logit,
            })
            .collect())
    }

    fn input_tensor(&self, ids: &[u32]) -> Result<Tensor> {
        if ids.is_empty() {
            return Err(EngineError::Input(
                "The text is empty: type a few words first.".into(),
            ));
        }
        if ids.len() > self.config.max_positions {
            return Err(EngineError::Input(format!(
                "The text has {} tokens but this model reads at most {}; shorten it.",
                ids.len(),
                self.config.max_positions
            )));
        }
        if let Some(&bad) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(EngineError::Input(format!(
                "token id {bad} is outside the model's vocabulary of {} tokens: the tokenizer does \
                 not belong to this model",
                self.config.vocab_size
            )));
        }
        Ok(Tensor::new(ids, &Device::Cpu)?)
    }

    fn check_position(&self, ids: &[u32], position: usize) -> Result<()> {
        if position >= ids.len() {
            return Err(EngineError::Input(format!(
                "position {position} is past the end of the {} tokens",
                ids.len()
            )));
        }
        Ok(())
    }

    fn lm_head_exists(&self) -> Result<()> {
        if self.has_prediction_head() {
            Ok(())
        } else {
            Err(EngineError::NoPredictionHead(
                self.config.architecture.name().to_string(),
            ))
        }
    }

    fn embed_tokens(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(match &self.network {
            Network::Gpt2(gpt2) => gpt2.embed_tokens(ids)?,
            Network::Encoder(bert) => bert.embed_tokens(ids)?,
            Network::Llama(llama) => llama.embed_tokens(ids)?,
        })
    }

    fn forward(&self, token_embeddings: &Tensor, record: bool) -> Result<ForwardPass> {
        Ok(match &self.network {
            Network::Gpt2(gpt2) => gpt2.forward(token_embeddings, record)?,
            Network::Encoder(bert) => bert.forward(token_embeddings, record)?,
            Network::Llama(llama) => llama.forward(token_embeddings, record)?,
        })
    }

    fn final_norm(&self, residual: &Tensor) -> Result<Tensor> {
        Ok(match &self.network {
            Network::Gpt2(gpt2) => gpt2.final_norm(residual)?,
            Network::Encoder(_) => residual.clone(),
            Network::Llama(llama) => llama.final_norm(residual)?,
        })
    }

    /// The logit of token `target` alone [rows, 1], for saliency.
    fn target_logit(&self, normed: &Tensor, target: usize) -> Result<Tensor> {
        match &self.network {
            Network::Gpt2(gpt2) => Ok(gpt2.lm_head_logit(normed, target)?),
            Network::Llama(llama) => Ok(llama.lm_head_logit(normed, target)?),
            Network::Encoder(bert) => bert.lm_head_logit(normed, target)?.ok_or_else(|| {
                EngineError::NoPredictionHead(self.config.architecture.name().to_string())
            }),
        }
    }

    fn lm_head(&self, normed: &Tensor) -> Result<Tensor> {
        match &self.network {
            Network::Gpt2(gpt2) => Ok(gpt2.lm_head(normed)?),
            Network::Llama(llama) => Ok(llama.lm_head(normed)?),
            Network::Encoder(bert) => bert.lm_head(normed)?.ok_or_else(|| {
                EngineError::NoPredictionHead(self.config.architecture.name().to_string())
            }),
        }
    }
}

/// The warning for weights holding NaN or infinite values, if any do.
fn non_finite_warning(tensors: &[(String, usize)]) -> Option<String> {
    if tensors.is_empty() {
        return None;
    }
    let listed = tensors
        .iter()
        .take(3)
        .map(|(name, count)| format!("`{name}` ({count})"))
        .collect::<Vec<_>>()
        .join(", ");
    let more = if tensors.len() > 3 {
        format!(" and {} more", tensors.len() - 3)
    } else {
        String::new()
    };
    Some(format!(
        "model.safetensors: {} tensor(s) hold NaN or infinite values: {listed}{more}. The model \
         runs, but numbers that depend on them will be NaN; the checkpoint is probably damaged.",
        tensors.len()
    ))
}
