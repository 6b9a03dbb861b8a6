//! T5 (t5-small, flan-t5-small): an encoder–decoder of pre-norm blocks with RMS norms and no
//! biases. Positions enter as a learned per-head bias on the scores by the bucketed distance
//! between query and key (computed in the first block of each stack, shared by the others);
//! scores are not divided by √d_head. The MLP is ReLU or gated GELU; a tied head reads the
//! decoder's output scaled by 1/√d_model.
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::SelfAttention;
use super::checkpoint::Checkpoint;
use super::config::{EncoderDecoderConfig, ModelConfig, RelativeAttentionConfig};
use super::encoder_decoder::{
    BlockContext, EncoderDecoder, Positions, RelativeBias, Stack, StackBlock,
};
use super::layers::{GatedMlp, Linear, LmHead, Mlp, RmsNorm, TokenEmbedding};
use super::recorder::Recorder;
use ae_messages::Architecture;

/// T5's feed-forward network: plain (`relu`) or gated (`gated-gelu`).
#[derive(Debug, Clone)]
enum FeedForward {
    Plain(Mlp),
    Gated(GatedMlp),
}

impl FeedForward {
    /// The network's output over `norm`(residual).
    fn forward(
        &self,
        norm: &RmsNorm,
        residual: &Tensor,
        rec: &mut Recorder,
    ) -> candle_core::Result<Tensor> {
        let (_, output) = match self {
            FeedForward::Plain(mlp) => mlp.forward(norm, residual, rec)?,
            FeedForward::Gated(mlp) => mlp.forward(norm, residual, rec)?,
        };
        Ok(output)
    }
}

/// One T5 block: self-attention, cross-attention (decoder only) and the MLP, each as
/// x = x + sublayer(norm(x)).
#[derive(Debug, Clone)]
struct T5Block {
    self_attention_norm: RmsNorm,
    self_attention: SelfAttention,
    cross_attention: Option<(RmsNorm, SelfAttention)>,
    mlp_norm: RmsNorm,
    mlp: FeedForward,
}

impl StackBlock for T5Block {
    fn forward(
        &self,
        x: &Tensor,
        context: &BlockContext,
        rec: &mut Recorder,
    ) -> candle_core::Result<Tensor> {
        let normed = self.self_attention_norm.forward(x)?;
        let (attended, internals, weights) = self.self_attention.attend(
            &normed,
            context.self_kv,
            context.self_terms,
            &rec.attention_edit(),
        )?;
        rec.attention(internals, weights);
        let mut x = (x + attended)?;
        if let (Some((norm, cross)), Some((keys_values, visible))) =
            (&self.cross_attention, context.source)
        {
            let terms = super::attention::ScoreTerms {
                bias: None,
                visible_keys: visible,
            };
            let (attended, internals, weights) = cross.attend(
                &norm.forward(&x)?,
                keys_values,
                terms,
                &rec.cross_attention_edit(),
            )?;
            rec.cross_attention(internals, weights);
            x = (x + attended)?;
        }
        &x + self.mlp.forward(&self.mlp_norm, &x, rec)?
    }

    fn cross_attention(&self) -> Option<&SelfAttention> {
        self.cross_attention.as_ref().map(|(_, cross)| cross)
    }
}

/// The shape of one stack's blocks.
struct StackShape<'a> {
    n_head: usize,
    d_ff: usize,
    decoder: bool,
    config: &'a ModelConfig,
    seq2seq: &'a EncoderDecoderConfig,
}

impl StackShape<'_> {
    /// q, k, v [heads·d_head, d_model] and o [d_model, heads·d_head], without biases.
    fn attention(&self, vb: VarBuilder) -> candle_core::Result<SelfAttention> {
        let (d, inner) = (self.config.d_model, self.n_head * self.seq2seq.d_head);
        let weight = |name: &str, shape: (usize, usize)| -> candle_core::Result<Linear> {
            Ok(Linear::new(vb.get(shape, &format!("{name}.weight"))?, None))
        };
        Ok(SelfAttention {
            query: weight("q", (inner, d))?,
            key: weight("k", (inner, d))?,
            value: weight("v", (inner, d))?,
            output: weight("o", (d, inner))?,
            n_head: self.n_head,
            n_kv_head: self.n_head,
            rotary: None,
            causal: false,
            scaled: Architecture::T5.scales_scores(),
        })
    }

    fn norm(&self, vb: VarBuilder) -> candle_core::Result<RmsNorm> {
        RmsNorm::load(vb, self.config.d_model, self.config.layer_norm_eps)
    }

    fn feed_forward(&self, vb: VarBuilder) -> candle_core::Result<FeedForward> {
        let (d, d_ff) = (self.config.d_model, self.d_ff);
        let weight = |name: &str, shape: (usize, usize)| -> candle_core::Result<Linear> {
            Ok(Linear::new(vb.get(shape, &format!("{name}.weight"))?, None))
        };
        Ok(if self.seq2seq.gated_mlp {
            FeedForward::Gated(GatedMlp {
                gate: weight("wi_0", (d_ff, d))?,
                activation: self.config.activation,
                up: weight("wi_1", (d_ff, d))?,
                down: weight("wo", (d, d_ff))?,
            })
        } else {
            FeedForward::Plain(Mlp {
                fc_in: weight("wi", (d_ff, d))?,
                activation: self.config.activation,
                fc_out: weight("wo", (d, d_ff))?,
            })
        })
    }

    /// Block `vb` (`encoder.block.N` / `decoder.block.N`): `layer.0` self-attention, in the
    /// decoder `layer.1` cross-attention, then the MLP.
    fn block(&self, vb: VarBuilder) -> candle_core::Result<T5Block> {
        let mut self_attention = self.attention(vb.pp("layer.0.SelfAttention"))?;
        self_attention.causal = self.decoder;
        let cross_attention = if self.decoder {
            Some((
                self.norm(vb.pp("layer.1.layer_norm"))?,
                self.attention(vb.pp("layer.1.EncDecAttention"))?,
            ))
        } else {
            None
        };
        let mlp_layer = vb.pp(if self.decoder { "layer.2" } else { "layer.1" });
        Ok(T5Block {
            self_attention_norm: self.norm(vb.pp("layer.0.layer_norm"))?,
            self_attention,
            cross_attention,
            mlp_norm: self.norm(mlp_layer.pp("layer_norm"))?,
            mlp: self.feed_forward(mlp_layer.pp("DenseReluDense"))?,
        })
    }

    /// The stack under `vb` (`encoder` / `decoder`), its bias table read from block 0.
    fn stack(
        &self,
        vb: VarBuilder,
        n_layer: usize,
        relative: RelativeAttentionConfig,
    ) -> candle_core::Result<Stack> {
        let table = vb.get(
            (relative.buckets, self.n_head),
            "block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        )?;
        let blocks = (0..n_layer)
            .map(|i| {
                self.block(vb.pp(format!("block.{i}")))
                    .map(|b| Box::new(b) as Box<dyn StackBlock>)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Stack {
            embedding_scale: 1.0,
            positions: Positions::Relative(RelativeBias {
                table,
                bidirectional: !self.decoder,
                buckets: relative.buckets,
                max_distance: relative.max_distance,
            }),
            embedding_norm: None,
            blocks,
            final_norm: Some(self.norm(vb.pp("final_layer_norm"))?),
        })
    }
}

/// Loads `T5ForConditionalGeneration`: `shared`, `encoder.*`, `decoder.*` and `lm_head` (or the
/// shared table when the file has no separate head).
pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<EncoderDecoder> {
    let Some(seq2seq) = &cfg.encoder_decoder else {
        candle_core::bail!("T5 needs its encoder–decoder numbers");
    };
    let Some(relative) = seq2seq.relative_attention else {
        candle_core::bail!("T5 needs its relative attention buckets");
    };
    let untied_head = checkpoint.contains("lm_head.weight");
    let (vb, _) = checkpoint.var_builders(&[], "shared.weight");
    let (d, vocab) = (cfg.d_model, cfg.vocab_size);
    let shared = vb.get((vocab, d), "shared.weight")?;
    let head_weight = if untied_head {
        vb.get((vocab, d), "lm_head.weight")?
    } else {
        shared.clone()
    };
    let shape = |decoder: bool| {
        let (n_head, d_ff) = cfg.heads_and_mlp_width(decoder);
        StackShape {
            n_head,
            d_ff,
            decoder,
            config: cfg,
            seq2seq,
        }
    };
    Ok(EncoderDecoder {
        embedding: TokenEmbedding::new(shared),
        encoder: shape(false).stack(vb.pp("encoder"), cfg.n_layer, relative)?,
        decoder: shape(true).stack(vb.pp("decoder"), seq2seq.decoder_layers, relative)?,
        head: LmHead {
            transform: None,
            decoder: Linear::new(head_weight, None),
        },
        head_input_scale: if seq2seq.scale_decoder_outputs {
            1.0 / (d as f64).sqrt()
        } else {
            1.0
        },
    })
}
