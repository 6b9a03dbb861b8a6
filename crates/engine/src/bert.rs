//! BERT (bert-base-uncased, all-MiniLM-L6-v2 …): a post-LayerNorm bidirectional encoder with an
//! optional masked-LM head. DistilBERT shares these structs under other tensor names
//! (see `distilbert.rs`).
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::SelfAttention;
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::layers::{linear, LayerNorm, Linear, LmHead, Mlp, TokenEmbedding};
use super::network::{Block, Embedded, Network};
use super::recorder::Recorder;

/// One encoder layer (post-norm).
#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    pub attention: SelfAttention,
    pub attention_norm: LayerNorm,
    pub mlp: Mlp,
    pub output_norm: LayerNorm,
}

impl Block for EncoderLayer {
    fn forward(&self, x: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor> {
        let residual = (self.attention.forward(x, rec)? + x)?;
        let (h, output) = self.mlp.forward(&self.attention_norm, &residual, rec)?;
        self.output_norm.forward(&(output + &h)?)
    }
}

/// The names of one encoder layer's tensors under a family's prefix.
pub(crate) struct EncoderNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub output: &'static str,
    pub attention_norm: &'static str,
    pub mlp_in: &'static str,
    pub mlp_out: &'static str,
    pub output_norm: &'static str,
}

impl EncoderLayer {
    /// Loads one layer from `vb` under `names`.
    pub(crate) fn load(
        vb: VarBuilder,
        names: &EncoderNames,
        cfg: &ModelConfig,
    ) -> candle_core::Result<Self> {
        let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);
        Ok(EncoderLayer {
            attention: SelfAttention {
                query: linear(vb.pp(names.query), d, d)?,
                key: linear(vb.pp(names.key), d, d)?,
                value: linear(vb.pp(names.value), d, d)?,
                output: linear(vb.pp(names.output), d, d)?,
                n_head: cfg.n_head,
                n_kv_head: cfg.n_kv_head,
                rotary: None,
                causal: false,
                scaled: true,
            },
            attention_norm: LayerNorm::load(vb.pp(names.attention_norm), d, eps)?,
            mlp: Mlp {
                fc_in: linear(vb.pp(names.mlp_in), d, cfg.d_ff)?,
                activation: cfg.activation,
                fc_out: linear(vb.pp(names.mlp_out), cfg.d_ff, d)?,
            },
            output_norm: LayerNorm::load(vb.pp(names.output_norm), d, eps)?,
        })
    }
}

const BERT_NAMES: EncoderNames = EncoderNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    mlp_in: "intermediate.dense",
    mlp_out: "output.dense",
    output_norm: "output.LayerNorm",
};

/// A BERT-style encoder: embeddings, layers and maybe a masked-LM head.
#[derive(Debug, Clone)]
pub struct Bert {
    pub(crate) word_embeddings: TokenEmbedding,
    pub(crate) position_embeddings: Tensor,
    /// Segment A's row of the token-type table (absent in DistilBERT).
    pub(crate) token_type_embedding: Option<Tensor>,
    pub(crate) embeddings_norm: LayerNorm,
    pub(crate) layers: Vec<EncoderLayer>,
    pub(crate) head: Option<LmHead>,
}

impl Bert {
    /// Loads `BertForMaskedLM` (`bert.` prefix, `cls.predictions.*` head) or a plain `BertModel`
    /// without prefix or head (sentence-transformers checkpoints).
    pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let has_head = checkpoint.contains("cls.predictions.transform.dense.weight");
        let has_decoder = checkpoint.contains("cls.predictions.decoder.weight");
        let has_head_bias = checkpoint.contains("cls.predictions.bias");
        let (root, vb) = checkpoint.var_builders(&["bert"], "embeddings.word_embeddings.weight");
        let head = |word_embeddings: &Tensor| -> candle_core::Result<Option<LmHead>> {
            if !has_head {
                return Ok(None);
            }
            let predictions = root.pp("cls.predictions");
            let decoder_weight = if has_decoder {
                predictions.get((cfg.vocab_size, cfg.d_model), "decoder.weight")?
            } else {
                word_embeddings.clone()
            };
            let bias_name = if has_head_bias {
                "bias"
            } else {
                "decoder.bias"
            };
            let bias = predictions.get(cfg.vocab_size, bias_name)?;
            let transform = (
                predictions.pp("transform.dense"),
                predictions.pp("transform.LayerNorm"),
            );
            masked_lm_head(transform, decoder_weight, bias, cfg).map(Some)
        };
        let layout = EncoderLayout {
            layers: "encoder.layer",
            names: &BERT_NAMES,
            segments: cfg.type_vocab_size > 0,
        };
        Bert::assemble(&vb, cfg, &layout, head)
    }

    /// The encoder under `vb` laid out as `layout`, with the head `head` builds from the word
    /// embeddings (its decoder is usually tied to them).
    pub(crate) fn assemble(
        vb: &VarBuilder,
        cfg: &ModelConfig,
        layout: &EncoderLayout,
        head: impl FnOnce(&Tensor) -> candle_core::Result<Option<LmHead>>,
    ) -> candle_core::Result<Self> {
        let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);
        let embeddings = vb.pp("embeddings");
        let word_embeddings = embeddings.get((cfg.vocab_size, d), "word_embeddings.weight")?;
        let token_type_embedding = if layout.segments {
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
                let layer = vb.pp(format!("{}.{i}", layout.layers));
                EncoderLayer::load(layer, layout.names, cfg)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let head = head(&word_embeddings)?;
        Ok(Bert {
            word_embeddings: TokenEmbedding::new(word_embeddings),
            position_embeddings: embeddings
                .get((cfg.max_positions, d), "position_embeddings.weight")?,
            token_type_embedding,
            embeddings_norm: LayerNorm::load(embeddings.pp("LayerNorm"), d, eps)?,
            layers,
            head,
        })
    }
}

/// Where a BERT-style checkpoint keeps its layers.
pub(crate) struct EncoderLayout {
    /// The layers' prefix, numbered from 0 (`encoder.layer`).
    pub layers: &'static str,
    /// The tensor names inside each layer.
    pub names: &'static EncoderNames,
    /// Whether it has segment (token type) embeddings.
    pub segments: bool,
}

/// A masked-LM head: dense → activation → LayerNorm (`transform`: the dense layer's and the
/// norm's folders), then the decoder to the vocabulary with its bias.
pub(crate) fn masked_lm_head(
    (dense, norm): (VarBuilder, VarBuilder),
    decoder_weight: Tensor,
    bias: Tensor,
    cfg: &ModelConfig,
) -> candle_core::Result<LmHead> {
    let d = cfg.d_model;
    Ok(LmHead {
        transform: Some((
            linear(dense, d, d)?,
            cfg.activation,
            LayerNorm::load(norm, d, cfg.layer_norm_eps)?,
        )),
        decoder: Linear::new(decoder_weight, Some(bias)),
    })
}

impl Network for Bert {
    fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.word_embeddings.forward(ids)
    }

    /// Adds positions and segment A, then the embeddings' LayerNorm.
    fn embed(
        &self,
        token_embeddings: &Tensor,
        first_position: usize,
    ) -> candle_core::Result<Embedded> {
        let n_tokens = token_embeddings.dim(0)?;
        let position_embeddings = self
            .position_embeddings
            .narrow(0, first_position, n_tokens)?;
        let mut embedding_sum = (token_embeddings + &position_embeddings)?;
        if let Some(token_type) = &self.token_type_embedding {
            embedding_sum = embedding_sum.broadcast_add(token_type)?;
        }
        Ok(Embedded {
            block_input: self.embeddings_norm.forward(&embedding_sum)?,
            position_embeddings: Some(position_embeddings),
            embedding_sum,
        })
    }

    fn blocks(&self) -> Vec<&dyn Block> {
        self.layers.iter().map(|b| b as &dyn Block).collect()
    }

    /// Post-norm: the last layer's output is already normalised.
    fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor> {
        Ok(residual.clone())
    }

    fn head(&self) -> Option<&LmHead> {
        self.head.as_ref()
    }

    fn position_table(&self) -> Option<&Tensor> {
        Some(&self.position_embeddings)
    }
}
