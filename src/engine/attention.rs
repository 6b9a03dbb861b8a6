//! The one multi-head self-attention every architecture uses, instrumented: it can hand back
//! every intermediate a student steps through (Q, K, V, scores, mask, softmax, weighted sum).
use super::layers::{takes_columns, Linear};
use candle_core::{Module, Tensor, D};

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

/// Every intermediate of one attention block, each with heads first.
#[derive(Debug, Clone)]
pub struct AttentionRecord {
    /// Queries [heads, tokens, d_head], after the rotation for rotary models.
    pub q: Tensor,
    /// Keys [heads, tokens, d_head], after the rotation for rotary models. With grouped-query
    /// attention each query head's row is the key/value head it reads, so heads in one group
    /// hold the same keys.
    pub k: Tensor,
    /// Values [heads, tokens, d_head], one per query head as for `k`.
    pub v: Tensor,
    /// q·kᵀ/√d_head before any mask [heads, query, key]. The masked scores the softmax read
    /// are not kept (a trace derives them from these): they are as large (GPT-2 at 1024
    /// tokens: 604 MB over 12 layers), and kept they brought the worker to the 4 GB that
    /// wasm32 can address.
    pub scores: Tensor,
    /// Softmax of the masked scores; every row sums to 1 [heads, query, key].
    pub probs: Tensor,
    /// probs·V, each head's output [heads, tokens, d_head].
    pub head_outputs: Tensor,
}

/// Attention weights from scores [.., query, key]: softmax over the keys, with every key after
/// its query set to −∞ first when `causal` (so it gets exactly 0). Every row sums to 1.
fn attention_probabilities(scores: &Tensor, causal: bool) -> candle_core::Result<Tensor> {
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

impl SelfAttention {
    /// Attention over a [tokens, d_model] input; returns the output projection's result
    /// [tokens, d_model] and, when `record` is set, every intermediate.
    pub fn forward(
        &self,
        xs: &Tensor,
        record: bool,
    ) -> candle_core::Result<(Tensor, Option<AttentionRecord>)> {
        let (n_tokens, d_model) = xs.dims2()?;
        let d_head = d_model / self.n_head;
        // On columns (see `takes_columns`) a projection is [heads·d_head, tokens], and each head's
        // rows are a transposed view of it: no copy.
        let columns = takes_columns(xs);
        // On columns, x's columns are copied out once for the three projections (each would
        // otherwise make the same strided copy, see `Linear::forward_columns`).
        let xs_t = if columns {
            xs.t()?.contiguous()?
        } else {
            xs.t()?
        };
        let project = |layer: &Linear, heads: usize| -> candle_core::Result<Tensor> {
            if columns {
                layer
                    .forward_columns(&xs_t)?
                    .reshape((heads, d_head, n_tokens))?
                    .transpose(1, 2)
            } else {
                layer
                    .forward(xs)?
                    .reshape((n_tokens, heads, d_head))?
                    .transpose(0, 1)?
                    .contiguous()
            }
        };
        let q = project(&self.query, self.n_head)?;
        let k = project(&self.key, self.n_kv_head)?;
        let v = project(&self.value, self.n_kv_head)?;
        let (q, k) = match &self.rotary {
            Some(rotary) => (rotary.rotate(&q)?, rotary.rotate(&k)?),
            None => (q, k),
        };
        let group = self.n_head / self.n_kv_head;
        let (k, v) = (repeat_kv(k, group)?, repeat_kv(v, group)?);

        let scores = (q.matmul(&k.t()?)? * (1.0 / (d_head as f64).sqrt()))?;
        let probs = attention_probabilities(&scores, self.causal)?;
        let head_outputs = probs.matmul(&v)?;

        let output = if columns {
            let concatenated_t = head_outputs
                .transpose(1, 2)?
                .contiguous()?
                .reshape((d_model, n_tokens))?;
            self.output.forward_columns(&concatenated_t)?.t()?
        } else {
            let concatenated = head_outputs
                .transpose(0, 1)?
                .contiguous()?
                .reshape((n_tokens, d_model))?;
            self.output.forward(&concatenated)?
        };
        let record = record.then(|| AttentionRecord {
            q,
            k,
            v,
            scores,
            probs,
            head_outputs,
        });
        Ok((output, record))
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
