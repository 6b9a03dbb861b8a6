//! Small building blocks shared by the architectures. Every op here has a backward pass, so
//! the same forward serves traces and saliency (candle-nn's fused LayerNorm does not).
use candle_core::Tensor;
use candle_nn::{Linear, VarBuilder};

/// LayerNorm over the last dimension, differentiable.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Loads `weight` and `bias` (or `gamma` and `beta`) of size `size`.
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps: eps as f32,
        })
    }

    /// Normalises each row to zero mean and unit variance, then scales and shifts.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm_slow(xs, &self.weight, &self.bias, self.eps)
    }
}

/// A PyTorch `nn.Linear` stored as [out, in] (BERT, DistilBERT).
pub fn linear(vb: VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Linear> {
    Ok(Linear::new(
        vb.get((out_dim, in_dim), "weight")?,
        Some(vb.get(out_dim, "bias")?),
    ))
}

/// GPT-2's `Conv1D` stored as [in, out], as an ordinary linear layer.
pub fn conv1d(vb: VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Linear> {
    let weight = vb.get((in_dim, out_dim), "weight")?;
    Ok(Linear::new(
        weight.t()?.contiguous()?,
        Some(vb.get(out_dim, "bias")?),
    ))
}
