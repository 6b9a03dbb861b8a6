//! The one multi-head self-attention every architecture uses, instrumented: it can hand back
//! every intermediate a student steps through (Q, K, V, scores, mask, softmax, weighted sum).
use candle_core::{Tensor, D};

use super::layers::Linear;
use super::matmul::{merge_heads, LayerInput};
use super::recorder::Recorder;
use ae_messages::AttentionInternals;

/// The projections of one attention block, as [out, in] linear layers.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    /// x → queries.
    pub query: Linear,
    /// x → keys.
    pub key: Linear,
    /// x → values.
    pub value: Linear,
    /// Concatenated head outputs → the block's attention output.
    pub output: Linear,
    /// Number of (query) heads.
    pub n_head: usize,
    /// Number of key/value heads; query head h reads key/value head h / (n_head / n_kv_head).
    pub n_kv_head: usize,
    /// Rotary position embedding applied to q and k (Llama); `None` for models that add
    /// positions to the input instead.
    pub rotary: Option<Rotary>,
    /// Whether a token may only attend to itself and earlier tokens.
    pub causal: bool,
}

impl SelfAttention {
    /// softmax(QKᵀ/√d_head + M)·V over x [tokens, d_model], then the output projection
    /// [tokens, d_model]; every intermediate goes to the recorder's attention hook.
    pub fn forward(&self, xs: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor> {
        let input = LayerInput::new(xs)?;
        let q = self.rotate(input.heads(&self.query, self.n_head)?)?;
        let k = self.rotate(input.heads(&self.key, self.n_kv_head)?)?;
        let v = input.heads(&self.value, self.n_kv_head)?;
        let group = self.n_head / self.n_kv_head;
        let (k, v) = (repeat_kv(k, group)?, repeat_kv(v, group)?);
        let d_head = q.dim(D::Minus1)?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (d_head as f64).sqrt()))?;
        let weights = attention_weights(&scores, self.causal)?;
        let head_outputs = weights.matmul(&v)?;
        let output = merge_heads(&self.output, &head_outputs)?;
        let internals = AttentionInternals {
            attention_input: xs.clone(),
            q,
            k,
            v,
            scores,
            head_outputs,
            attention_output: output.clone(),
        };
        rec.attention(internals, weights);
        Ok(output)
    }

    /// Queries or keys [heads, tokens, d_head] rotated by position (rotary models), else as they are.
    fn rotate(&self, xs: Tensor) -> candle_core::Result<Tensor> {
        match &self.rotary {
            Some(rotary) => rotary.rotate(&xs),
            None => Ok(xs),
        }
    }
}

/// Attention weights from scores [.., query, key]: softmax over the keys, with every key after
/// its query set to −∞ first when `causal` (so it gets exactly 0). Every row sums to 1.
fn attention_weights(scores: &Tensor, causal: bool) -> candle_core::Result<Tensor> {
    let masked_scores = if causal {
        causal_mask(scores)?
    } else {
        scores.clone()
    };
    // Saliency needs the backward pass of the composed softmax; a trace takes the one-pass op.
    if masked_scores.track_op() {
        candle_nn::ops::softmax(&masked_scores, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(&masked_scores.contiguous()?)
    }
}

/// Sets every score of a key after its query to −∞, so softmax gives it exactly 0.
fn causal_mask(scores: &Tensor) -> candle_core::Result<Tensor> {
    let n_tokens = scores.dim(D::Minus1)?;
    let positions = Tensor::arange(0u32, n_tokens as u32, scores.device())?;
    let visible = positions
        .unsqueeze(1)?
        .broadcast_ge(&positions.unsqueeze(0)?)?;
    let minus_infinity = Tensor::full(f32::NEG_INFINITY, scores.shape(), scores.device())?;
    visible
        .broadcast_as(scores.shape())?
        .where_cond(scores, &minus_infinity)
}

/// Repeats each key/value head for the `group` query heads that read it:
/// [kv_heads, tokens, d] → [kv_heads·group, tokens, d], kv head j at rows j·group .. (j+1)·group.
fn repeat_kv(xs: Tensor, group: usize) -> candle_core::Result<Tensor> {
    if group == 1 {
        return Ok(xs);
    }
    let (kv_heads, n_tokens, d_head) = xs.dims3()?;
    xs.unsqueeze(1)?
        .broadcast_as((kv_heads, group, n_tokens, d_head))?
        .contiguous()?
        .reshape((kv_heads * group, n_tokens, d_head))
}

/// Rotary position embedding (RoPE) as Llama uses it in transformers: dimension i of the first
/// half of each head pairs with dimension i + d_head/2, and the pair is rotated by the angle
/// position · θ^(−2i/d_head).
#[derive(Debug, Clone)]
pub struct Rotary {
    /// The base θ (`rope_theta`).
    pub theta: f64,
    /// Width of one head.
    pub d_head: usize,
}

impl Rotary {
    /// cos and sin of every angle for positions 0..n_positions, each [n_positions, d_head/2].
    /// Computed per call (n_positions × d_head/2 values): a table for the model's whole
    /// context would be sized by a number read from the file.
    pub fn cos_sin(&self, n_positions: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let device = candle_core::Device::Cpu;
        let half = self.d_head / 2;
        let inverse_frequencies: Vec<f32> = (0..half)
            .map(|i| (1.0 / self.theta.powf(2.0 * i as f64 / self.d_head as f64)) as f32)
            .collect();
        let inverse_frequencies = Tensor::from_vec(inverse_frequencies, (1, half), &device)?;
        let positions = Tensor::arange(0u32, n_positions as u32, &device)?
            .to_dtype(candle_core::DType::F32)?
            .reshape((n_positions, 1))?;
        let angles = positions.broadcast_mul(&inverse_frequencies)?;
        Ok((angles.cos()?, angles.sin()?))
    }

    /// Rotates [heads, tokens, d_head] by each token's position. candle-nn's composed `rope_slow`,
    /// not the fused `rope`: saliency needs the backward pass, which the fused op lacks.
    pub fn rotate(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (cos, sin) = self.cos_sin(xs.dim(1)?)?;
        candle_nn::rotary_emb::rope_slow(&xs.unsqueeze(0)?, &cos, &sin)?.squeeze(0)
    }
}
