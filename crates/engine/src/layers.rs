//! The building blocks the families share: norms, linear layers, the embedding, the MLPs and
//! the LM head. The same forward serves traces and saliency: on a gradient path (`track_op`)
//! every op has a backward pass. The norms take candle-nn's fused one-pass ops on both; on a
//! gradient path `norm_gradient` gives them their backward. How products are computed lives in
//! `matmul`.
use candle_core::{DType, Module, Tensor};
use candle_nn::VarBuilder;

use super::activation::Activation;
use super::matmul;
use super::norm_gradient::{on_gradient_path, Centring};
use super::recorder::Recorder;
use ae_messages::FeedForwardInternals;

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

    /// Normalises each row to zero mean and unit variance, then scales and shifts, with
    /// candle-nn's one-pass op; on a gradient path with a backward of its own (f32), else as
    /// composed ops.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let norm = |xs: &Tensor| {
            candle_nn::ops::layer_norm(&xs.contiguous()?, &self.weight, &self.bias, self.eps)
        };
        if !xs.track_op() {
            return norm(xs);
        }
        if xs.dtype() != DType::F32 {
            return candle_nn::ops::layer_norm_slow(xs, &self.weight, &self.bias, self.eps);
        }
        let output = norm(&xs.detach())?;
        on_gradient_path(xs, &output, &self.weight, Centring::Mean, self.eps)
    }
}

/// Root-mean-square norm with a learned scale (Llama's, T5's), differentiable.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    /// Loads `weight` of size `size`.
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(RmsNorm {
            weight: vb.get(size, "weight")?,
            eps: eps as f32,
        })
    }

    /// candle-nn's one-pass op; on a gradient path with a backward of its own (f32), else as
    /// composed ops.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let norm =
            |xs: &Tensor| candle_nn::ops::rms_norm(&xs.contiguous()?, &self.weight, self.eps);
        if !xs.track_op() {
            return norm(xs);
        }
        if xs.dtype() != DType::F32 {
            return candle_nn::ops::rms_norm_slow(xs, &self.weight, self.eps);
        }
        let output = norm(&xs.detach())?;
        on_gradient_path(xs, &output, &self.weight, Centring::None, self.eps)
    }
}

/// A norm as the feed-forward network's record names it: how it normalises, and its learned
/// scale γ and (a LayerNorm's) shift β.
pub trait Norm {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor>;
    /// γ [d_model] and, for a LayerNorm, β [d_model].
    fn scale_and_shift(&self) -> (Tensor, Option<Tensor>);
}

impl Norm for LayerNorm {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        LayerNorm::forward(self, xs)
    }
    fn scale_and_shift(&self) -> (Tensor, Option<Tensor>) {
        (self.weight.clone(), Some(self.bias.clone()))
    }
}

impl Norm for RmsNorm {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        RmsNorm::forward(self, xs)
    }
    fn scale_and_shift(&self) -> (Tensor, Option<Tensor>) {
        (self.weight.clone(), None)
    }
}

/// What a feed-forward network records about the norm it reads through.
fn norm_record(norm: &dyn Norm, residual: &Tensor) -> (Tensor, Tensor, Option<Tensor>) {
    let (scale, shift) = norm.scale_and_shift();
    (residual.clone(), scale, shift)
}

/// A linear layer y = x·Wᵀ + b with W stored [out, in], like PyTorch's `nn.Linear` (the LM
/// heads too: a vocabulary matrix [vocab, d_model] is such a weight). Its backward pass computes
/// only the input's gradient (see `matmul::times_weight`).
#[derive(Debug, Clone)]
pub struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
}

impl Linear {
    /// A layer from its weight [out, in] and optional bias [out].
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear { weight, bias }
    }

    /// Output `index` alone for rows x [rows, in]: [rows, 1], differentiable in x. Saliency
    /// differentiates one logit, and this is one column of the head instead of all of them
    /// (and of the whole head's backward).
    pub fn forward_one_output(&self, xs: &Tensor, index: usize) -> candle_core::Result<Tensor> {
        let product = xs.matmul(&self.weight.narrow(0, index, 1)?.t()?)?;
        match &self.bias {
            Some(bias) => product.broadcast_add(&bias.narrow(0, index, 1)?),
            None => Ok(product),
        }
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        matmul::times_weight(xs, &self.weight, self.bias.as_ref())
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

/// A token embedding: its table [vocab, d_model], often the LM head's weight too.
#[derive(Debug, Clone)]
pub struct TokenEmbedding {
    table: Tensor,
}

impl TokenEmbedding {
    /// The embedding from its table [vocab, d_model].
    pub fn new(table: Tensor) -> Self {
        TokenEmbedding { table }
    }

    /// The rows of `ids` [tokens, d_model].
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.table.index_select(&ids.flatten_all()?, 0)
    }
}

/// The position-wise feed-forward network: fc_out(activation(fc_in(x))).
#[derive(Debug, Clone)]
pub struct Mlp {
    pub fc_in: Linear,
    pub activation: Activation,
    pub fc_out: Linear,
}

impl Mlp {
    /// The MLP over `norm`(residual) [tokens, d_model], the way every block reads it; records
    /// its internals and returns (the normed input, the output).
    pub fn forward(
        &self,
        norm: &dyn Norm,
        residual: &Tensor,
        rec: &mut Recorder,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let xs = norm.forward(residual)?;
        let activation = |x: &Tensor| self.activation.forward(x);
        let hidden = matmul::through_hidden_layer(&xs, &self.fc_in, activation, &self.fc_out)?;
        let (norm_input, norm_scale, norm_shift) = norm_record(norm, residual);
        rec.feed_forward(FeedForwardInternals {
            norm_input,
            norm_scale,
            norm_shift,
            input: xs.clone(),
            pre_activations: hidden.pre_activations,
            up: None,
            activations: hidden.activations,
            output: hidden.output.clone(),
        });
        Ok((xs, hidden.output))
    }
}

/// A gated feed-forward network: down(activation(gate(x)) · up(x)) — Llama's SwiGLU (SiLU)
/// and flan-t5's gated GELU.
#[derive(Debug, Clone)]
pub struct GatedMlp {
    pub gate: Linear,
    pub activation: Activation,
    pub up: Linear,
    pub down: Linear,
}

impl GatedMlp {
    /// As [`Mlp::forward`].
    pub fn forward(
        &self,
        norm: &dyn Norm,
        residual: &Tensor,
        rec: &mut Recorder,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let xs = norm.forward(residual)?;
        let gate = self.gate.forward(&xs)?;
        let up = self.up.forward(&xs)?;
        let activations = (self.activation.forward(&gate)? * &up)?;
        let output = self.down.forward(&activations)?;
        let (norm_input, norm_scale, norm_shift) = norm_record(norm, residual);
        rec.feed_forward(FeedForwardInternals {
            norm_input,
            norm_scale,
            norm_shift,
            input: xs.clone(),
            pre_activations: gate,
            up: Some(up),
            activations,
            output: output.clone(),
        });
        Ok((xs, output))
    }
}

/// The language-model head: an optional transform (BERT's masked-LM head: dense → activation →
/// LayerNorm) and the decoder to vocabulary logits (often tied to the token embedding).
#[derive(Debug, Clone)]
pub struct LmHead {
    pub transform: Option<(Linear, Activation, LayerNorm)>,
    pub decoder: Linear,
}

impl LmHead {
    /// Logits from final hidden rows [rows, d_model] → [rows, vocab].
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder.forward(&self.features(hidden)?)
    }

    /// The logit of token `target` alone [rows, 1] (see [`Linear::forward_one_output`]).
    pub fn logit(&self, hidden: &Tensor, target: usize) -> candle_core::Result<Tensor> {
        self.decoder
            .forward_one_output(&self.features(hidden)?, target)
    }

    fn features(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        match &self.transform {
            Some((dense, activation, norm)) => {
                norm.forward(&activation.forward(&dense.forward(hidden)?)?)
            }
            None => Ok(hidden.clone()),
        }
    }
}
