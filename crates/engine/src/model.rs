//! A loaded model — config, tokenizer and network — and the traces the page and the CLI read.
//! The other analyses (predictions, the logit lens, saliency) are in `analysis/`.
use candle_core::Tensor;

use super::analysis::PredictionLogits;
use super::anatomy::anatomy;
use super::append::TracedText;
use super::checkpoint::{ByteSource, Checkpoint};
use super::config::ModelConfig;
use super::encoder_decoder::EncoderDecoder;
use super::error::{EngineError, ModelWarning, Result, TokenizerDamage};
use super::gguf;
use super::layers::LmHead;
use super::network::{self, ForwardPass, Loaded, Network};
use super::recorder::Recorder;
use super::tokenizer::TextTokenizer;
use super::trace::{full_trace, page_trace, to_array};
use super::Device;
use ae_messages::{
    Anatomy, Array, Interventions, PageTrace, TokenizedText, Trace, TARGET_TOKENIZER_FILE,
};

/// A model ready to run.
pub struct Model {
    /// The numbers read from config.json.
    pub config: ModelConfig,
    /// The model's tokenizer.
    pub tokenizer: TextTokenizer,
    /// A translator's own tokenizer for the target side (Marian's target.spm), if it has one;
    /// else targets are cut by `tokenizer` too.
    target_tokenizer: Option<TextTokenizer>,
    /// Number of weights in the checkpoint (buffers such as position ids excluded).
    pub parameter_count: usize,
    /// Every weight's name, shape and part; its total is `parameter_count`.
    pub anatomy: Anatomy,
    network: Loaded,
    warnings: Vec<ModelWarning>,
    /// The lab's changes to every one-text pass (`lab.rs`); none by default.
    pub(crate) interventions: Interventions,
}

/// What [`Model::page_trace`] returns.
#[derive(Debug, Clone)]
pub struct PageTraceParts {
    /// What the page receives first.
    pub trace: PageTrace,
    /// The recorded pass: every layer's internals, for the layer the page shows and any it
    /// asks for, and what a trace of the text with tokens appended extends.
    pub traced: TracedText,
    /// The logits where the model predicts, when it can predict here.
    pub predicted: Option<PredictionLogits>,
    /// How many tokens' numbers came from the trace this one extends (0: from scratch).
    pub kept_tokens: usize,
}

/// An error unless every token of `tokenizer` has a row in the model's embeddings.
fn fits_embeddings(tokenizer: &TextTokenizer, config: &ModelConfig) -> Result<()> {
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(EngineError::tokenizer(
            TokenizerDamage::LargerThanEmbeddings {
                tokens: tokenizer.vocab_size(),
                rows: config.vocab_size,
            },
        ));
    }
    Ok(())
}

impl Model {
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

    /// [`Model::from_source`] with the weights in memory.
    pub fn from_bytes(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
    ) -> Result<Self> {
        Self::from_source(config_json, tokenizer_json, safetensors)
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
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| EngineError::CannotRead {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        if let Some(path) = gguf_file {
            return Self::from_gguf(read(&path)?.as_slice());
        }
        let model = Self::from_bytes(
            &read(&dir.join("config.json"))?,
            &read(&dir.join("tokenizer.json"))?,
            &read(&dir.join("model.safetensors"))?,
        )?;
        let target_file = dir.join(TARGET_TOKENIZER_FILE);
        match target_file.is_file() {
            true => model.with_target_tokenizer(&read(&target_file)?),
            false => Ok(model),
        }
    }

    /// Cuts targets with this tokenizer (target_tokenizer.json) instead of the source's.
    pub fn with_target_tokenizer(mut self, tokenizer_json: &[u8]) -> Result<Self> {
        let tokenizer = TextTokenizer::from_json(tokenizer_json)
            .and_then(|tokenizer| fits_embeddings(&tokenizer, &self.config).map(|_| tokenizer))
            .map_err(EngineError::about_target_tokenizer)?;
        self.target_tokenizer = Some(tokenizer);
        Ok(self)
    }

    /// The tokenizer that cuts a target: the target side's own, else the model's.
    pub(crate) fn target_side_tokenizer(&self) -> &TextTokenizer {
        self.target_tokenizer.as_ref().unwrap_or(&self.tokenizer)
    }

    /// Builds the network from an already parsed checkpoint (the benchmark's random models).
    pub fn from_parts(
        config: ModelConfig,
        tokenizer: TextTokenizer,
        checkpoint: Checkpoint,
    ) -> Result<Self> {
        fits_embeddings(&tokenizer, &config)?;
        let parameter_count = checkpoint.parameter_count();
        let anatomy = anatomy(checkpoint.weight_shapes());
        let warnings = non_finite_warning(checkpoint.non_finite_tensors()?)
            .into_iter()
            .collect();
        let network = network::load(&config, checkpoint)?;
        Ok(Model {
            config,
            tokenizer,
            target_tokenizer: None,
            parameter_count,
            anatomy,
            network,
            warnings,
            interventions: Interventions::default(),
        })
    }

    /// What the user should know about the loaded files although they load (e.g. NaN weights).
    pub fn warnings(&self) -> &[ModelWarning] {
        &self.warnings
    }

    /// Tokenizes text the way the model expects it.
    pub fn tokenize(&self, text: &str) -> Result<TokenizedText> {
        self.tokenizer.encode(text)
    }

    /// Whether the model can predict tokens (a decoder, or an encoder with its masked-LM head).
    pub fn has_prediction_head(&self) -> bool {
        match &self.network {
            Loaded::OneStack(network) => network.head().is_some(),
            Loaded::EncoderDecoder(_) => true,
        }
    }

    /// Whether the model reads a source and writes a target (T5, BART, Marian).
    pub fn is_encoder_decoder(&self) -> bool {
        matches!(self.network, Loaded::EncoderDecoder(_))
    }

    /// The network of a model that reads one text, or the error that says this one needs a
    /// source and a target.
    pub(crate) fn network(&self) -> Result<&dyn Network> {
        match &self.network {
            Loaded::OneStack(network) => Ok(network.as_ref()),
            Loaded::EncoderDecoder(_) => Err(EngineError::NeedsSource {
                architecture: self.config.architecture.name().to_string(),
            }),
        }
    }

    /// The encoder–decoder, or the error that says this model reads one text.
    pub(crate) fn encoder_decoder(&self) -> Result<&EncoderDecoder> {
        match &self.network {
            Loaded::EncoderDecoder(network) => Ok(network),
            Loaded::OneStack(_) => Err(EngineError::NotEncoderDecoder {
                architecture: self.config.architecture.name().to_string(),
            }),
        }
    }

    /// The full trace: every layer's and head's Q, K, V, scores, probabilities, outputs, MLP
    /// activations, the residual stream and, with a head, the logits at every position.
    pub fn trace(&self, ids: &[u32]) -> Result<Trace> {
        let (token_embeddings, pass) = self.run(ids, Recorder::everything())?;
        let logits = match self.network()?.head() {
            Some(head) => Some(head.logits(&pass.final_hidden)?),
            None => None,
        };
        let page = self.page_trace_of(ids, &token_embeddings, &pass)?;
        full_trace(page, &pass, logits.as_ref())
    }

    /// The trace the page needs ([`PageTrace`]), the attention internals of every layer kept as
    /// tensors (the worker copies one layer out at a time), and the logits where the model
    /// predicts (the last position of a decoder, each [MASK] of a masked LM), for the
    /// predictions and their re-scoring. No all-positions logits: the page shows no other
    /// position's, and the LM head over every position is a large share of a short text's
    /// forward pass (GPT-2: 768 × 50,257 multiply-adds per token). The logits are `None` when
    /// the model cannot predict here (no head, or no [MASK] in the text).
    pub fn page_trace(&self, ids: &[u32]) -> Result<PageTraceParts> {
        let (token_embeddings, pass) = self.run(ids, Recorder::everything())?;
        self.page_trace_parts(ids, token_embeddings, pass)
    }

    /// The page's trace, the predicted logits and the kept pass, from a recorded pass of `ids`.
    pub(crate) fn page_trace_parts(
        &self,
        ids: &[u32],
        token_embeddings: Tensor,
        pass: ForwardPass,
    ) -> Result<PageTraceParts> {
        let predicted = match self.default_positions(ids) {
            Ok(positions) => Some(self.logits_at(&pass.final_hidden, positions)?),
            Err(_) => None,
        };
        Ok(PageTraceParts {
            trace: self.page_trace_of(ids, &token_embeddings, &pass)?,
            traced: TracedText {
                ids: ids.to_vec(),
                interventions: self.interventions.clone(),
                token_embeddings,
                pass,
            },
            predicted,
            kept_tokens: 0,
        })
    }

    fn page_trace_of(
        &self,
        ids: &[u32],
        token_embeddings: &Tensor,
        pass: &ForwardPass,
    ) -> Result<PageTrace> {
        let tokens = ids
            .iter()
            .map(|&id| self.tokenizer.display_token(id))
            .collect();
        let mut trace = page_trace(&self.config, ids.to_vec(), tokens, token_embeddings, pass)?;
        // Without its causal mask the pass hid nothing (the lab); with the padding mask it
        // hid the padding from every query.
        let lab = &self.interventions;
        trace.causal &= !lab.causal_mask_off;
        if let Some(pad) = self.hidden_padding(lab) {
            trace.hidden_keys = ids.iter().map(|&id| id == pad).collect();
        }
        Ok(trace)
    }

    /// The model's learned position table [max_positions, d_model] (GPT-2 `wpe`, BERT
    /// `position_embeddings`); `None` for rotary models (Llama), which rotate queries and keys
    /// by position instead.
    pub fn position_table(&self) -> Result<Option<Array>> {
        let table = match &self.network {
            Loaded::OneStack(network) => network.position_table(),
            Loaded::EncoderDecoder(network) => network.encoder.position_table(),
        };
        table.map(to_array).transpose()
    }

    /// Embeds `ids` and runs the network, recording into `rec`; returns the token embeddings
    /// and the pass. The lab's interventions apply.
    pub(crate) fn run(&self, ids: &[u32], rec: Recorder) -> Result<(Tensor, ForwardPass)> {
        let token_embeddings = self.embed_tokens(ids)?;
        let rec = self.with_interventions(rec, ids)?;
        let pass = network::forward(self.network()?, &token_embeddings, rec)?;
        Ok((token_embeddings, pass))
    }

    /// Runs the network from the token embeddings of `ids` (saliency differentiates with
    /// respect to them), keeping the residual streams only.
    pub(crate) fn run_from(&self, ids: &[u32], token_embeddings: &Tensor) -> Result<ForwardPass> {
        let rec = self.with_interventions(Recorder::streams_only(), ids)?;
        Ok(network::forward(self.network()?, token_embeddings, rec)?)
    }

    /// The token embeddings of `ids` [tokens, d_model], after checking the ids fit the model.
    pub(crate) fn embed_tokens(&self, ids: &[u32]) -> Result<Tensor> {
        self.check_ids(ids)?;
        Ok(self
            .network()?
            .embed_tokens(&Tensor::new(ids, &Device::Cpu)?)?)
    }

    /// An error unless the model reads `ids`: some, no more than its positions, each in its
    /// vocabulary.
    pub(crate) fn check_ids(&self, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Err(EngineError::TextEmpty);
        }
        if ids.len() > self.config.max_positions {
            return Err(EngineError::TextTooLong {
                tokens: ids.len(),
                max: self.config.max_positions,
            });
        }
        if let Some(&bad) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(EngineError::TokenOutOfVocabulary {
                id: bad,
                vocab: self.config.vocab_size,
            });
        }
        Ok(())
    }

    /// The final norm (identity for post-norm encoders).
    pub(crate) fn final_norm(&self, residual: &Tensor) -> Result<Tensor> {
        Ok(self.network()?.final_norm(residual)?)
    }

    /// An error unless `position` is one of the tokens of `ids`.
    pub(crate) fn check_position(&self, ids: &[u32], position: usize) -> Result<()> {
        if position >= ids.len() {
            return Err(EngineError::PositionOutOfRange {
                position,
                tokens: ids.len(),
            });
        }
        Ok(())
    }

    /// The LM head, or the error that says this checkpoint has none.
    pub(crate) fn head(&self) -> Result<&LmHead> {
        self.network()?
            .head()
            .ok_or_else(|| EngineError::NoPredictionHead {
                architecture: self.config.architecture.name().to_string(),
            })
    }
}

/// The warning for weights holding NaN or infinite values, if any do.
fn non_finite_warning(tensors: Vec<(String, usize)>) -> Option<ModelWarning> {
    (!tensors.is_empty()).then_some(ModelWarning::NonFinite { tensors })
}
