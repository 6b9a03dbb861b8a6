//! Llama-family decoders (SmolLM2, TinyLlama …) as llama.cpp's GGUF files name their tensors:
//! pre-RMSNorm blocks, rotary position embeddings on q and k, grouped-query attention and a
//! SwiGLU MLP; the LM head is `output.weight`, or the token embedding when the file has none.
use candle_core::{Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::attention::{Rotary, SelfAttention};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::forward::{ForwardPass, LayerRecord};
use super::gguf::unpermute_rows;
use super::layers::Linear;

/// Root-mean-square norm with a learned scale, differentiable (candle-nn's fused `RmsNorm`
/// has no backward pass).
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(RmsNorm {
            weight: vb.get(size, "weight")?,
            eps: eps as f32,
        })
    }

    /// Composed ops on a gradient path (they have a backward pass), else candle-nn's one-pass op.
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        if xs.track_op() {
            candle_nn::ops::rms_norm_slow(xs, &self.weight, self.eps)
        } else {
            candle_nn::ops::rms_norm(&xs.contiguous()?, &self.weight, self.eps)
        }
    }
}

/// One Llama block: x + attn(norm(x)), then x + down(silu(gate(norm(x))) · up(norm(x))).
#[derive(Debug, Clone)]
struct Block {
    attn_norm: RmsNorm,
    attention: SelfAttention,
    ffn_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &ModelConfig, rotary: &Rotary) -> candle_core::Result<Self> {
        let (d, d_head) = (cfg.d_model, cfg.d_head());
        let projection = |name: &str, rows: usize| -> candle_core::Result<Tensor> {
            vb.get((rows, d), &format!("{name}.weight"))
        };
        let query = unpermute_rows(&projection("attn_q", cfg.n_head * d_head)?, cfg.n_head)?;
        let key = unpermute_rows(
            &projection("attn_k", cfg.n_kv_head * d_head)?,
            cfg.n_kv_head,
        )?;
        Ok(Block {
            attn_norm: RmsNorm::load(vb.pp("attn_norm"), d, cfg.layer_norm_eps)?,
            attention: SelfAttention {
                query: Linear::new(query, None),
                key: Linear::new(key, None),
                value: Linear::new(projection("attn_v", cfg.n_kv_head * d_head)?, None),
                output: Linear::new(
                    vb.get((d, cfg.n_head * d_head), "attn_output.weight")?,
                    None,
                ),
                n_head: cfg.n_head,
                n_kv_head: cfg.n_kv_head,
                rotary: Some(rotary.clone()),
                causal: true,
            },
            ffn_norm: RmsNorm::load(vb.pp("ffn_norm"), d, cfg.layer_norm_eps)?,
            gate: Linear::new(vb.get((cfg.d_ff, d), "ffn_gate.weight")?, None),
            up: Linear::new(vb.get((cfg.d_ff, d), "ffn_up.weight")?, None),
            down: Linear::new(vb.get((d, cfg.d_ff), "ffn_down.weight")?, None),
        })
    }
}

/// A Llama decoder.
#[derive(Debug, Clone)]
pub struct Llama {
    token_embd: Embedding,
    blocks: Vec<Block>,
    output_norm: RmsNorm,
    /// The LM head, weight [vocab, d_model]: `output.weight`, or the token embedding when tied.
    output: Linear,
}

impl Llama {
    /// Loads from GGUF tensor names (`token_embd.weight`, `blk.N.attn_q.weight` …).
    pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let tied = !checkpoint.contains("output.weight");
        let (_, vb) = checkpoint.var_builders(&[], "token_embd.weight");
        let token_embd = vb.get((cfg.vocab_size, cfg.d_model), "token_embd.weight")?;
        let rotary = Rotary {
            theta: cfg.rope_theta.unwrap_or(10_000.0),
            d_head: cfg.d_head(),
        };
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::load(vb.pp(format!("blk.{i}")), cfg, &rotary))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let output = if tied {
            token_embd.clone()
        } else {
            vb.get((cfg.vocab_size, cfg.d_model), "output.weight")?
        };
        Ok(Llama {
            token_embd: Embedding::new(token_embd, cfg.d_model),
            blocks,
            output_norm: RmsNorm::load(vb.pp("output_norm"), cfg.d_model, cfg.layer_norm_eps)?,
            output: Linear::new(output, None),
        })
    }

    /// The token embedding rows for `ids` [tokens, d_model].
    pub fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.token_embd.forward(ids)
    }

    /// Runs the blocks over token embeddings; positions enter only through the rotation of q
    /// and k inside attention.
    pub fn forward(
        &self,
        token_embeddings: &Tensor,
        record: bool,
    ) -> candle_core::Result<ForwardPass> {
        let mut residual_streams = vec![token_embeddings.clone()];
        let mut layers = Vec::new();
        let mut hidden = token_embeddings.clone();
        for block in &self.blocks {
            let attention_input = block.attn_norm.forward(&hidden)?;
            let (attention_output, attention) =
                block.attention.forward(&attention_input, record)?;
            hidden = (hidden + &attention_output)?;
            let mlp_input = block.ffn_norm.forward(&hidden)?;
            // SwiGLU: the gate's SiLU times the up projection is what the down projection reads.
            let mlp_activations =
                (block.gate.forward(&mlp_input)?.silu()? * block.up.forward(&mlp_input)?)?;
            hidden = (hidden + block.down.forward(&mlp_activations)?)?;
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
        let final_hidden = self.final_norm(&hidden)?;
        Ok(ForwardPass {
            position_embeddings: None,
            embedding_sum: token_embeddings.clone(),
            residual_streams,
            final_hidden,
            layers,
        })
    }

    /// The RMSNorm before the LM head.
    pub fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor> {
        self.output_norm.forward(residual)
    }

    /// Logits from normed rows [rows, d_model] → [rows, vocab].
    pub fn lm_head(&self, normed: &Tensor) -> candle_core::Result<Tensor> {
        self.output.forward(normed)
    }

    /// The logit of token `target` alone [rows, 1].
    pub fn lm_head_logit(&self, normed: &Tensor, target: usize) -> candle_core::Result<Tensor> {
        self.output.forward_one_output(normed, target)
    }
}
