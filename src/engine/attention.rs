//! The one multi-head self-attention every architecture uses, instrumented: it can hand back
//! every intermediate a student steps through (Q, K, V, scores, mask, softmax, weighted sum).
use super::layers::Linear;
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
    /// Number of heads.
    pub n_head: usize,
    /// Whether a token may only attend to itself and earlier tokens.
    pub causal: bool,
}

/// Every intermediate of one attention block, each with heads first.
#[derive(Debug, Clone)]
pub struct AttentionRecord {
    /// Queries [heads, tokens, d_head].
    pub q: Tensor,
    /// Keys [heads, tokens, d_head].
    pub k: Tensor,
    /// Values [heads, tokens, d_head].
    pub v: Tensor,
    /// q·kᵀ/√d_head before any mask [heads, query, key].
    pub scores: Tensor,
    /// Scores with future keys set to −∞ for decoders (equal to `scores` for encoders).
    pub masked_scores: Tensor,
    /// Softmax of the masked scores; every row sums to 1 [heads, query, key].
    pub probs: Tensor,
    /// probs·V, each head's output [heads, tokens, d_head].
    pub head_outputs: Tensor,
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
        let split_heads = |projected: Tensor| -> candle_core::Result<Tensor> {
            projected
                .reshape((n_tokens, self.n_head, d_head))?
                .transpose(0, 1)?
                .contiguous()
        };
        let q = split_heads(self.query.forward(xs)?)?;
        let k = split_heads(self.key.forward(xs)?)?;
        let v = split_heads(self.value.forward(xs)?)?;

        let scores = (q.matmul(&k.t()?)? * (1.0 / (d_head as f64).sqrt()))?;
        let masked_scores = if self.causal {
            causal_mask(&scores)?
        } else {
            scores.clone()
        };
        // The plain softmax, not softmax_last_dim: saliency needs its backward pass.
        let probs = candle_nn::ops::softmax(&masked_scores, D::Minus1)?;
        let head_outputs = probs.matmul(&v)?;

        let concatenated = head_outputs
            .transpose(0, 1)?
            .contiguous()?
            .reshape((n_tokens, d_model))?;
        let output = self.output.forward(&concatenated)?;
        let record = record.then(|| AttentionRecord {
            q,
            k,
            v,
            scores,
            masked_scores,
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
