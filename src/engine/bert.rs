//! BERT (bert-base-uncased, all-MiniLM-L6-v2 …): a post-LayerNorm bidirectional encoder with an
//! optional masked-LM head. DistilBERT shares these structs under other tensor names
//! (see `distilbert.rs`).
use candle_core::{Module, Tensor};

use super::attention::SelfAttention;
use super::checkpoint::Checkpoint;
use super::config::{Activation, ModelConfig};
use super::forward::{ForwardPass, LayerRecord};
use super::layers::{linear, mlp, LayerNorm, Linear, TokenEmbedding};

/// One encoder layer: h = norm(x + attn(x)), then norm(h + mlp(h)).
#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    pub attention: SelfAttention,
    pub attention_norm: LayerNorm,
    pub mlp_in: Linear,
    pub mlp_out: Linear,
    pub output_norm: LayerNorm,
}

/// The masked-LM head: dense → activation → LayerNorm → decoder (usually tied to the embeddings).
#[derive(Debug, Clone)]
pub(crate) struct MlmHead {
    pub transform: Linear,
    pub norm: LayerNorm,
    pub decoder: Linear,
}

/// A BERT-style encoder: embeddings, layers and maybe a masked-LM head.
#[derive(Debug, Clone)]
pub struct Bert {
    pub(crate) word_embeddings: TokenEmbedding,
    pub(crate) position_embeddings: Tensor,
    /// Segment A's row of the token-type table (absent in DistilBERT).
    pub(crate) token_type_embedding: Option<Tensor>,
    pub(crate) embeddings_norm: LayerNorm,
    pub(crate) layers: Vec<EncoderLayer>,
    pub(crate) head: Option<MlmHead>,
    pub(crate) activation: Activation,
}

impl Bert {
    /// Loads `BertForMaskedLM` (`bert.` prefix, `cls.predictions.*` head) or a plain `BertModel`
    /// without prefix or head (sentence-transformers checkpoints).
    pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let has_head = checkpoint.contains("cls.predictions.transform.dense.weight");
        let has_decoder = checkpoint.contains("cls.predictions.decoder.weight");
        let has_head_bias = checkpoint.contains("cls.predictions.bias");
        let (root, vb) = checkpoint.var_builders(&["bert"], "embeddings.word_embeddings.weight");
        let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);

        let embeddings = vb.pp("embeddings");
        // Vocabulary matrices come transposed from the checkpoint, [d_model, vocab].
        let word_embeddings = embeddings.get((d, cfg.vocab_size), "word_embeddings.weight")?;
        let token_type_embedding = if cfg.type_vocab_size > 0 {
            Some(
                embeddings
                    .get((cfg.type_vocab_size, d), "token_type_embeddings.weight")?
                    .get(0)?,
            )
        } else {
            None
        };
        let layers = (0..cfg.n_layer)
            .map(|i| {
                let layer = vb.pp(format!("encoder.layer.{i}"));
                Ok(EncoderLayer {
                    attention: SelfAttention {
                        query: linear(layer.pp("attention.self.query"), d, d)?,
                        key: linear(layer.pp("attention.self.key"), d, d)?,
                        value: linear(layer.pp("attention.self.value"), d, d)?,
                        output: linear(layer.pp("attention.output.dense"), d, d)?,
                        n_head: cfg.n_head,
                        n_kv_head: cfg.n_kv_head,
                        rotary: None,
                        causal: false,
                    },
                    attention_norm: LayerNorm::load(
                        layer.pp("attention.output.LayerNorm"),
                        d,
                        eps,
                    )?,
                    mlp_in: linear(layer.pp("intermediate.dense"), d, cfg.d_ff)?,
                    mlp_out: linear(layer.pp("output.dense"), cfg.d_ff, d)?,
                    output_norm: LayerNorm::load(layer.pp("output.LayerNorm"), d, eps)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let head = if has_head {
            let predictions = root.pp("cls.predictions");
            let decoder_weight = if has_decoder {
                predictions.get((d, cfg.vocab_size), "decoder.weight")?
            } else {
                word_embeddings.clone()
            };
            let bias_name = if has_head_bias {
                "bias"
            } else {
                "decoder.bias"
            };
            Some(MlmHead {
                transform: linear(predictions.pp("transform.dense"), d, d)?,
                norm: LayerNorm::load(predictions.pp("transform.LayerNorm"), d, eps)?,
                decoder: Linear::in_out(
                    decoder_weight,
                    Some(predictions.get(cfg.vocab_size, bias_name)?),
                ),
            })
        } else {
            None
        };
        Ok(Bert {
            word_embeddings: TokenEmbedding::from_transposed(word_embeddings),
            position_embeddings: embeddings
                .get((cfg.max_positions, d), "position_embeddings.weight")?,
            token_type_embedding,
            embeddings_norm: LayerNorm::load(embeddings.pp("LayerNorm"), d, eps)?,
            layers,
            head,
            activation: cfg.activation,
        })
    }

    /// The word embedding rows for `ids` [tokens, d_model].
    pub fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.word_embeddings.forward(ids)
    }

    /// Runs the encoder over word embeddings; position and segment embeddings are added here.
    pub fn forward(
        &self,
        token_embeddings: &Tensor,
        record: bool,
    ) -> candle_core::Result<ForwardPass> {
        let n_tokens = token_embeddings.dim(0)?;
        let position_embeddings = self.position_embeddings.narrow(0, 0, n_tokens)?;
        let mut embedding_sum = (token_embeddings + &position_embeddings)?;
        if let Some(token_type) = &self.token_type_embedding {
            embedding_sum = embedding_sum.broadcast_add(token_type)?;
        }
        let mut hidden = self.embeddings_norm.forward(&embedding_sum)?;
        let mut residual_streams = vec![hidden.clone()];
        let mut layers = Vec::new();
        for layer in &self.layers {
            let attention_input = hidden.clone();
            let (attention_output, attention) =
                layer.attention.forward(&attention_input, record)?;
            let after_attention = layer
                .attention_norm
                .forward(&(&attention_output + &hidden)?)?;
            let (mlp_output, mlp_activations) =
                mlp(&after_attention, &layer.mlp_in, &layer.mlp_out, |x| {
                    self.activation.forward(x)
                })?;
            hidden = layer
                .output_norm
                .forward(&(mlp_output + &after_attention)?)?;
            residual_streams.push(hidden.clone());
            if let Some(attention) = attention {
                layers.push(LayerRecord {
                    attention_input,
                    attention,
                    attention_output,
                    mlp_activations,
                });
            }
        }
        Ok(ForwardPass {
            position_embeddings: Some(position_embeddings),
            embedding_sum,
            residual_streams,
            final_hidden: hidden,
            layers,
        })
    }

    /// Whether the checkpoint carries a masked-LM head.
    pub fn has_head(&self) -> bool {
        self.head.is_some()
    }

    /// Logits from hidden rows [rows, d_model] → [rows, vocab]; `None` without a head.
    pub fn lm_head(&self, hidden: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let Some(head) = &self.head else {
            return Ok(None);
        };
        Ok(Some(
            head.decoder.forward(&self.head_features(head, hidden)?)?,
        ))
    }

    /// The logit of token `target` alone [rows, 1] (see [`Linear::forward_one_output`]);
    /// `None` without a head.
    pub fn lm_head_logit(
        &self,
        hidden: &Tensor,
        target: usize,
    ) -> candle_core::Result<Option<Tensor>> {
        let Some(head) = &self.head else {
            return Ok(None);
        };
        Ok(Some(head.decoder.forward_one_output(
            &self.head_features(head, hidden)?,
            target,
        )?))
    }

    /// The masked-LM head up to its decoder: dense → activation → LayerNorm.
    fn head_features(&self, head: &MlmHead, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let transformed = self.activation.forward(&head.transform.forward(hidden)?)?;
        head.norm.forward(&transformed)
    }

    /// The learned position table [max_positions, d_model].
    pub fn position_table(&self) -> &Tensor {
        &self.position_embeddings
    }
}
