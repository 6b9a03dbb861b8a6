//! GPT-2 (gpt2, distilgpt2, gpt2-medium …): a pre-LayerNorm causal decoder whose LM head is
//! tied to the token embedding. Conv1D weights are stored [in, out].
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::SelfAttention;
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::layers::{conv1d, LayerNorm, Linear, LmHead, Mlp, TokenEmbedding};
use super::network::{Block, Embedded, Network};
use super::recorder::Recorder;

/// One GPT-2 block.
#[derive(Debug, Clone)]
struct Gpt2Block {
    ln_1: LayerNorm,
    attn: SelfAttention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block for Gpt2Block {
    fn forward(&self, x: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln_1.forward(x)?, rec)?)?;
        &x + self.mlp.forward(&self.ln_2, &x, rec)?.1
    }
}

impl Gpt2Block {
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
        Ok(Gpt2Block {
            ln_1: LayerNorm::load(vb.pp("ln_1"), d, cfg.layer_norm_eps)?,
            attn: SelfAttention {
                query: projection(0)?,
                key: projection(1)?,
                value: projection(2)?,
                output: conv1d(vb.pp("attn.c_proj"), d, d)?,
                n_head: cfg.n_head,
                n_kv_head: cfg.n_kv_head,
                rotary: None,
                causal: true,
                scaled: true,
            },
            ln_2: LayerNorm::load(vb.pp("ln_2"), d, cfg.layer_norm_eps)?,
            mlp: Mlp {
                fc_in: conv1d(vb.pp("mlp.c_fc"), d, cfg.d_ff)?,
                activation: cfg.activation,
                fc_out: conv1d(vb.pp("mlp.c_proj"), cfg.d_ff, d)?,
            },
        })
    }
}

/// GPT-2 with its tied LM head.
#[derive(Debug, Clone)]
pub struct Gpt2 {
    wte: TokenEmbedding,
    wpe: Tensor,
    blocks: Vec<Gpt2Block>,
    ln_f: LayerNorm,
    /// Tied to `wte`: its table [vocab, d_model] is the head's weight.
    lm_head: LmHead,
}

impl Gpt2 {
    /// Loads from either key layout: `transformer.h.0…` (recent transformers) or `h.0…` (the
    /// Hub's openai-community/gpt2); the `attn.bias` mask buffers are ignored.
    pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let (_, vb) = checkpoint.var_builders(&["transformer"], "wte.weight");
        let wte = vb.get((cfg.vocab_size, cfg.d_model), "wte.weight")?;
        let blocks = (0..cfg.n_layer)
            .map(|i| Gpt2Block::load(vb.pp(format!("h.{i}")), cfg))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Gpt2 {
            lm_head: LmHead {
                transform: None,
                decoder: Linear::new(wte.clone(), None),
            },
            wte: TokenEmbedding::new(wte),
            wpe: vb.get((cfg.max_positions, cfg.d_model), "wpe.weight")?,
            blocks,
            ln_f: LayerNorm::load(vb.pp("ln_f"), cfg.d_model, cfg.layer_norm_eps)?,
        })
    }
}

impl Network for Gpt2 {
    fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.wte.forward(ids)
    }

    /// Adds the learned positions, as HF does with `inputs_embeds`.
    fn embed(
        &self,
        token_embeddings: &Tensor,
        first_position: usize,
    ) -> candle_core::Result<Embedded> {
        let n_tokens = token_embeddings.dim(0)?;
        let position_embeddings = self.wpe.narrow(0, first_position, n_tokens)?;
        let embedding_sum = (token_embeddings + &position_embeddings)?;
        Ok(Embedded {
            position_embeddings: Some(position_embeddings),
            block_input: embedding_sum.clone(),
            embedding_sum,
        })
    }

    fn blocks(&self) -> Vec<&dyn Block> {
        self.blocks.iter().map(|b| b as &dyn Block).collect()
    }

    fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor> {
        self.ln_f.forward(residual)
    }

    fn head(&self) -> Option<&LmHead> {
        Some(&self.lm_head)
    }

    fn position_table(&self) -> Option<&Tensor> {
        Some(&self.wpe)
    }
}
