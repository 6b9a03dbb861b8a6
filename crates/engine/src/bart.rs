//! BART (bart-base) and Marian (opus-mt-*): encoder–decoders of post-LayerNorm blocks, as in
//! "Attention Is All You Need". They differ where positions come from: BART adds a learned
//! table read from row 2 on and normalises the sum (`layernorm_embedding`); Marian adds the
//! paper's sinusoids (sines first, then cosines) to embeddings scaled by √d_model. The head is
//! tied to the shared embedding, plus `final_logits_bias`.
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::{ScoreTerms, SelfAttention};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::encoder_decoder::{BlockContext, EncoderDecoder, Positions, Stack, StackBlock};
use super::layers::{linear, LayerNorm, Linear, LmHead, Mlp, TokenEmbedding};
use super::positional::sines_then_cosines;
use super::recorder::Recorder;
use ae_messages::Architecture;

/// BART's learned positions start at row 2 of their table.
const LEARNED_POSITION_OFFSET: usize = 2;

/// One post-norm block: x = norm(x + sublayer(x)) for self-attention, cross-attention (decoder
/// only) and the MLP.
#[derive(Debug, Clone)]
struct BartBlock {
    self_attention: SelfAttention,
    self_attention_norm: LayerNorm,
    cross_attention: Option<(SelfAttention, LayerNorm)>,
    mlp: Mlp,
    mlp_norm: LayerNorm,
}

impl StackBlock for BartBlock {
    fn forward(
        &self,
        x: &Tensor,
        context: &BlockContext,
        rec: &mut Recorder,
    ) -> candle_core::Result<Tensor> {
        let (attended, internals, weights) = self.self_attention.attend(
            x,
            context.self_kv,
            context.self_terms,
            &rec.attention_edit(),
        )?;
        rec.attention(internals, weights);
        // Post-norm: each sublayer's residual sum is normed before the next sublayer reads it;
        // the feed-forward network records the last of those norms.
        let mut residual = (x + attended)?;
        let mut norm = &self.self_attention_norm;
        if let (Some((cross, cross_norm)), Some((keys_values, visible))) =
            (&self.cross_attention, context.source)
        {
            let terms = ScoreTerms {
                bias: None,
                visible_keys: visible,
            };
            let x = norm.forward(&residual)?;
            let (attended, internals, weights) =
                cross.attend(&x, keys_values, terms, &rec.cross_attention_edit())?;
            rec.cross_attention(internals, weights);
            residual = (&x + attended)?;
            norm = cross_norm;
        }
        let (x, output) = self.mlp.forward(norm, &residual, rec)?;
        self.mlp_norm.forward(&(&x + output)?)
    }

    fn cross_attention(&self) -> Option<&SelfAttention> {
        self.cross_attention.as_ref().map(|(cross, _)| cross)
    }
}

/// The shape of one stack's blocks.
struct StackShape<'a> {
    n_head: usize,
    d_ff: usize,
    decoder: bool,
    config: &'a ModelConfig,
}

impl StackShape<'_> {
    /// Causal in the decoder's self-attention only.
    fn attention(&self, vb: VarBuilder, causal: bool) -> candle_core::Result<SelfAttention> {
        let d = self.config.d_model;
        Ok(SelfAttention {
            query: linear(vb.pp("q_proj"), d, d)?,
            key: linear(vb.pp("k_proj"), d, d)?,
            value: linear(vb.pp("v_proj"), d, d)?,
            output: linear(vb.pp("out_proj"), d, d)?,
            n_head: self.n_head,
            n_kv_head: self.n_head,
            rotary: None,
            causal,
            scaled: true,
        })
    }

    fn norm(&self, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
        LayerNorm::load(vb, self.config.d_model, self.config.layer_norm_eps)
    }

    /// Block `vb` (`encoder.layers.N` / `decoder.layers.N`).
    fn block(&self, vb: VarBuilder) -> candle_core::Result<BartBlock> {
        let d = self.config.d_model;
        let cross_attention = if self.decoder {
            Some((
                self.attention(vb.pp("encoder_attn"), false)?,
                self.norm(vb.pp("encoder_attn_layer_norm"))?,
            ))
        } else {
            None
        };
        Ok(BartBlock {
            self_attention: self.attention(vb.pp("self_attn"), self.decoder)?,
            self_attention_norm: self.norm(vb.pp("self_attn_layer_norm"))?,
            cross_attention,
            mlp: Mlp {
                fc_in: linear(vb.pp("fc1"), d, self.d_ff)?,
                activation: self.config.activation,
                fc_out: linear(vb.pp("fc2"), self.d_ff, d)?,
            },
            mlp_norm: self.norm(vb.pp("final_layer_norm"))?,
        })
    }

    /// The stack under `vb` (`encoder` / `decoder`).
    fn stack(
        &self,
        vb: VarBuilder,
        n_layer: usize,
        embedding_scale: f64,
    ) -> candle_core::Result<Stack> {
        let (d, max_positions) = (self.config.d_model, self.config.max_positions);
        let (positions, embedding_norm) = match self.config.architecture {
            Architecture::Marian => (
                Positions::Sinusoidal(sines_then_cosines(max_positions, d)?),
                None,
            ),
            _ => (
                Positions::Learned {
                    table: vb.get(
                        (max_positions + LEARNED_POSITION_OFFSET, d),
                        "embed_positions.weight",
                    )?,
                    offset: LEARNED_POSITION_OFFSET,
                },
                Some(self.norm(vb.pp("layernorm_embedding"))?),
            ),
        };
        let blocks = (0..n_layer)
            .map(|i| {
                self.block(vb.pp(format!("layers.{i}")))
                    .map(|b| Box::new(b) as Box<dyn StackBlock>)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Stack {
            embedding_scale,
            positions,
            embedding_norm,
            blocks,
            final_norm: None,
        })
    }
}

/// Loads `BartForConditionalGeneration` / `MarianMTModel` (`model.` prefix) or a bare model.
pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<EncoderDecoder> {
    let Some(seq2seq) = &cfg.encoder_decoder else {
        candle_core::bail!(
            "{} needs its encoder–decoder numbers",
            cfg.architecture.name()
        );
    };
    let has_logits_bias = checkpoint.contains("final_logits_bias");
    let (root, vb) = checkpoint.var_builders(&["model"], "shared.weight");
    let (d, vocab) = (cfg.d_model, cfg.vocab_size);
    let shared = vb.get((vocab, d), "shared.weight")?;
    let logits_bias = if has_logits_bias {
        Some(root.get((1, vocab), "final_logits_bias")?.reshape(vocab)?)
    } else {
        None
    };
    let shape = |decoder: bool| {
        let (n_head, d_ff) = cfg.heads_and_mlp_width(decoder);
        StackShape {
            n_head,
            d_ff,
            decoder,
            config: cfg,
        }
    };
    let scale = seq2seq.embedding_scale;
    Ok(EncoderDecoder {
        embedding: TokenEmbedding::new(shared.clone()),
        encoder: shape(false).stack(vb.pp("encoder"), cfg.n_layer, scale)?,
        decoder: shape(true).stack(vb.pp("decoder"), seq2seq.decoder_layers, scale)?,
        head: LmHead {
            transform: None,
            decoder: Linear::new(shared, logits_bias),
        },
        head_input_scale: 1.0,
    })
}
