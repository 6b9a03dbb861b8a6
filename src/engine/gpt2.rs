//! GPT-2 (gpt2, distilgpt2, gpt2-medium …): a pre-LayerNorm causal decoder whose LM head is
//! tied to the token embedding. Conv1D weights are stored [in, out].
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use super::attention::SelfAttention;
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::forward::{ForwardPass, LayerRecord};
use super::layers::{conv1d, mlp, LayerNorm, Linear, TokenEmbedding};

/// One GPT-2 block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
#[derive(Debug, Clone)]
struct Block {
    ln_1: LayerNorm,
    attention: SelfAttention,
    ln_2: LayerNorm,
    mlp_in: Linear,
    mlp_out: Linear,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        // c_attn packs the Q, K and V projections side by side: [d, 3d].
        let c_attn = vb.pp("attn.c_attn");
        let qkv_weight = c_attn.get((d, 3 * d), "weight")?;
        let qkv_bias = c_attn.get(3 * d, "bias")?;
        let projection = |index: usize| -> candle_core::Result<Linear> {
            let weight = qkv_weight.narrow(1, index * d, d)?.t()?.contiguous()?;
            Ok(Linear::new(
                weight,
                Some(qkv_bias.narrow(0, index * d, d)?.contiguous()?),
            ))
        };
        Ok(Block {
            ln_1: LayerNorm::load(vb.pp("ln_1"), d, cfg.layer_norm_eps)?,
            attention: SelfAttention {
                query: projection(0)?,
                key: projection(1)?,
                value: projection(2)?,
                output: conv1d(vb.pp("attn.c_proj"), d, d)?,
                n_head: cfg.n_head,
                n_kv_head: cfg.n_kv_head,
                rotary: None,
                causal: true,
            },
            ln_2: LayerNorm::load(vb.pp("ln_2"), d, cfg.layer_norm_eps)?,
            mlp_in: conv1d(vb.pp("mlp.c_fc"), d, cfg.d_ff)?,
            mlp_out: conv1d(vb.pp("mlp.c_proj"), cfg.d_ff, d)?,
        })
    }
}

/// GPT-2 with its tied LM head.
#[derive(Debug, Clone)]
pub struct Gpt2 {
    wte: TokenEmbedding,
    /// The LM head, tied to `wte`: x·E with the table stored [d_model, vocab].
    lm_head: Linear,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    cfg: ModelConfig,
}

impl Gpt2 {
    /// Loads from either key layout: `transformer.h.0…` (recent transformers) or `h.0…` (the
    /// Hub's openai-community/gpt2); the `attn.bias` mask buffers are ignored.
    pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let (_, vb) = checkpoint.var_builders(&["transformer"], "wte.weight");
        // Stored transposed by the checkpoint (a vocabulary matrix).
        let wte = vb.get((cfg.d_model, cfg.vocab_size), "wte.weight")?;
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::load(vb.pp(format!("h.{i}")), cfg))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Gpt2 {
            lm_head: Linear::in_out(wte.clone(), None),
            wte: TokenEmbedding::from_transposed(wte),
            wpe: vb.get((cfg.max_positions, cfg.d_model), "wpe.weight")?,
            blocks,
            ln_f: LayerNorm::load(vb.pp("ln_f"), cfg.d_model, cfg.layer_norm_eps)?,
            cfg: cfg.clone(),
        })
    }

    /// The token embedding rows for `ids` [tokens, d_model].
    pub fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.wte.forward(ids)
    }

    /// Runs the blocks over token embeddings; positions are added here, as with HF `inputs_embeds`.
    pub fn forward(
        &self,
        token_embeddings: &Tensor,
        record: bool,
    ) -> candle_core::Result<ForwardPass> {
        let n_tokens = token_embeddings.dim(0)?;
        let position_embeddings = self.wpe.narrow(0, 0, n_tokens)?;
        let embedding_sum = (token_embeddings + &position_embeddings)?;
        let mut residual_streams = vec![embedding_sum.clone()];
        let mut layers = Vec::new();
        let mut hidden = embedding_sum.clone();
        for block in &self.blocks {
            let attention_input = block.ln_1.forward(&hidden)?;
            let (attention_output, attention) =
                block.attention.forward(&attention_input, record)?;
            hidden = (hidden + &attention_output)?;
            let (mlp_output, mlp_activations) = mlp(
                &block.ln_2.forward(&hidden)?,
                &block.mlp_in,
                &block.mlp_out,
                |x| self.cfg.activation.forward(x),
            )?;
            hidden = (hidden + mlp_output)?;
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
            position_embeddings: Some(position_embeddings),
            embedding_sum,
            residual_streams,
            final_hidden,
            layers,
        })
    }

    /// ln_f, the norm before the LM head.
    pub fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor> {
        self.ln_f.forward(residual)
    }

    /// Logits from normed rows [rows, d_model] → [rows, vocab], through the tied `wte`.
    pub fn lm_head(&self, normed: &Tensor) -> candle_core::Result<Tensor> {
        self.lm_head.forward(normed)
    }

    /// The logit of token `target` alone [rows, 1] (see [`Linear::forward_one_output`]).
    pub fn lm_head_logit(&self, normed: &Tensor, target: usize) -> candle_core::Result<Tensor> {
        self.lm_head.forward_one_output(normed, target)
    }

    /// The learned position table [max_positions, d_model].
    pub fn position_table(&self) -> &Tensor {
        &self.wpe
    }
}
