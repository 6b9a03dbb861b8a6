//! Llama-family decoders (SmolLM2, TinyLlama …) as llama.cpp's GGUF files name their tensors:
//! pre-RMSNorm blocks, rotary position embeddings on q and k, grouped-query attention and a
//! SwiGLU MLP; the LM head is `output.weight`, or the token embedding when the file has none.
use candle_core::{Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::activation::Activation;
use super::attention::{Rotary, SelfAttention};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::gguf::unpermute_rows;
use super::layers::{GatedMlp, Linear, LmHead, RmsNorm};
use super::network::{Block, Embedded, Network};
use super::recorder::Recorder;

/// One Llama block.
#[derive(Debug, Clone)]
struct LlamaBlock {
    attn_norm: RmsNorm,
    attention: SelfAttention,
    ffn_norm: RmsNorm,
    mlp: GatedMlp,
}

impl Block for LlamaBlock {
    fn forward(&self, x: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor> {
        let x = (x + self.attention.forward(&self.attn_norm.forward(x)?, rec)?)?;
        &x + self.mlp.forward(&self.ffn_norm, &x, rec)?.1
    }
}

impl LlamaBlock {
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
        Ok(LlamaBlock {
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
                scaled: true,
            },
            ffn_norm: RmsNorm::load(vb.pp("ffn_norm"), d, cfg.layer_norm_eps)?,
            mlp: GatedMlp {
                gate: Linear::new(vb.get((cfg.d_ff, d), "ffn_gate.weight")?, None),
                activation: Activation::Silu,
                up: Linear::new(vb.get((cfg.d_ff, d), "ffn_up.weight")?, None),
                down: Linear::new(vb.get((d, cfg.d_ff), "ffn_down.weight")?, None),
            },
        })
    }
}

/// A Llama decoder.
#[derive(Debug, Clone)]
pub struct Llama {
    token_embd: Embedding,
    blocks: Vec<LlamaBlock>,
    output_norm: RmsNorm,
    /// Weight [vocab, d_model]: `output.weight`, or the token embedding when tied.
    output: LmHead,
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
            .map(|i| LlamaBlock::load(vb.pp(format!("blk.{i}")), cfg, &rotary))
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
            output: LmHead {
                transform: None,
                decoder: Linear::new(output, None),
            },
        })
    }
}

impl Network for Llama {
    fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.token_embd.forward(ids)
    }

    /// Nothing is added: positions enter only through the rotation of q and k.
    fn embed(&self, token_embeddings: &Tensor, _: usize) -> candle_core::Result<Embedded> {
        Ok(Embedded {
            position_embeddings: None,
            embedding_sum: token_embeddings.clone(),
            block_input: token_embeddings.clone(),
        })
    }

    fn blocks(&self) -> Vec<&dyn Block> {
        self.blocks.iter().map(|b| b as &dyn Block).collect()
    }

    fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor> {
        self.output_norm.forward(residual)
    }

    fn head(&self) -> Option<&LmHead> {
        Some(&self.output)
    }

    fn position_table(&self) -> Option<&Tensor> {
        None
    }
}
