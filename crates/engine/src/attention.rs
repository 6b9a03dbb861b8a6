//! The one multi-head self-attention every architecture uses, instrumented: it can hand back
//! every intermediate a student steps through (Q, K, V, scores, mask, softmax, weighted sum).
use std::ops::Range;

use candle_core::{Tensor, D};

use super::attention_gradient::on_gradient_path;
use super::kernels;
use super::layers::Linear;
use super::matmul::{merge_heads, LayerInput};
use super::parallel::by_head_blocks;
use super::recorder::Recorder;
use ae_messages::{Ablation, AttentionInternals};

/// The projections of one attention block, as [out, in] linear layers.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    /// x → queries.
    pub query: Linear,
    /// x → keys (the encoder's output → keys in cross-attention).
    pub key: Linear,
    /// x → values (the encoder's output → values in cross-attention).
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
    /// Whether scores are divided by √d_head; T5's are not (its initialisation absorbs it).
    pub scaled: bool,
}

/// What is added to the scores besides the causal mask: softmax(QKᵀ/√d_head + B + M)·V.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreTerms<'a> {
    /// A bias per head, query and key [heads, query, key] (T5's relative positions).
    pub bias: Option<&'a Tensor>,
    /// Which keys may be attended to [key], 1 or 0 (u8): 0 marks a padding token, whose
    /// score becomes −∞.
    pub visible_keys: Option<&'a Tensor>,
}

/// What the lab changes in one block's attention ([`ae_messages::Interventions`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttentionEdit {
    /// The heads switched off, and what replaces their output before the output projection.
    pub ablated: Vec<usize>,
    pub ablation: Ablation,
    /// A causal model's mask left out: every query sees every key.
    pub causal_mask_off: bool,
}

/// Where attention's keys and values come from.
#[derive(Debug, Clone, Copy)]
pub enum KeyValues<'a> {
    /// x itself: self-attention over the whole sequence.
    Own,
    /// x, after the projected keys and values [heads, earlier, d_head] of the positions before
    /// it: a decoder writing one token at a time.
    AfterPast(&'a Tensor, &'a Tensor),
    /// Another sequence's rows [keys, d_model]: cross-attention over the encoder's output.
    Of(&'a Tensor),
    /// Keys and values already projected [heads, keys, d_head] (the encoder's, once per
    /// source, while a decoder writes).
    Projected(&'a Tensor, &'a Tensor),
}

impl SelfAttention {
    /// softmax(QKᵀ/√d_head + M)·V over x [tokens, d_model], then the output projection
    /// [tokens, d_model]; every intermediate goes to the recorder's attention hook.
    /// The lab's edits for this block come from the recorder.
    /// When the recorder holds the block's earlier positions (tokens appended to a traced
    /// text), x is the appended rows only: their queries read the earlier keys and values too,
    /// and the earlier queries' scores for the appended keys are recorded as well.
    pub fn forward(&self, xs: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor> {
        let terms = ScoreTerms {
            bias: None,
            visible_keys: rec.visible_keys(),
        };
        let edit = rec.attention_edit();
        let earlier = rec.earlier().cloned();
        let kv = match &earlier {
            Some(earlier) => KeyValues::AfterPast(&earlier.keys, &earlier.values),
            None => KeyValues::Own,
        };
        let (output, internals, weights) = self.attend(xs, kv, terms, &edit)?;
        if let Some(earlier) = &earlier {
            let n_earlier = earlier.keys.dim(1)?;
            let appended_keys = internals.k.narrow(1, n_earlier, xs.dim(0)?)?;
            rec.earlier_scores(scores(&earlier.queries, &appended_keys, self.scaled)?);
        }
        rec.attention(internals, weights);
        Ok(output)
    }

    /// Attention of the queries from x [queries, d_model] over the keys and values `kv` says
    /// (x itself, after earlier positions', or the encoder's output), with `terms` added to the
    /// scores. Returns the output [queries, d_model], the intermediates (k and v: every key
    /// attended to) and the weights [heads, query, key]. With earlier positions, query i is
    /// position earlier + i for the causal mask. `edit` is what the lab changes.
    pub fn attend(
        &self,
        xs: &Tensor,
        kv: KeyValues,
        terms: ScoreTerms,
        edit: &AttentionEdit,
    ) -> candle_core::Result<(Tensor, AttentionInternals<Tensor>, Tensor)> {
        let input = LayerInput::new(xs)?;
        let earlier = match kv {
            KeyValues::AfterPast(past_k, _) => past_k.dim(1)?,
            _ => 0,
        };
        let q = self.rotate(input.heads(&self.query, self.n_head)?, earlier)?;
        let (k, v) = match kv {
            KeyValues::Own => self.keys_and_values(&input, 0)?,
            KeyValues::AfterPast(past_k, past_v) => {
                let (k, v) = self.keys_and_values(&input, earlier)?;
                (
                    Tensor::cat(&[past_k, &k], 1)?,
                    Tensor::cat(&[past_v, &v], 1)?,
                )
            }
            KeyValues::Of(memory) => self.keys_and_values(&LayerInput::new(memory)?, 0)?,
            KeyValues::Projected(k, v) => (k.clone(), v.clone()),
        };
        let (scores, weights, head_outputs) =
            self.attend_heads(&q, &k, &v, terms, edit.causal_mask_off)?;
        let head_outputs = switch_off(head_outputs, &edit.ablated, edit.ablation)?;
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
        Ok((output, internals, weights))
    }

    /// softmax(QKᵀ/√d_head + B + M)·V of q [heads, query, d_head], k and v [heads, key,
    /// d_head]: the scores, the weights [heads, query, key] and the head outputs [heads, query,
    /// d_head]. Blocks of heads are computed side by side; on a gradient path, their backward
    /// too (`attention_gradient.rs`).
    fn attend_heads(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        terms: ScoreTerms,
        causal_mask_off: bool,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        // Computed off the gradient path; on it, the head outputs get their gradient below.
        let heads = |first: usize, n: usize| {
            let bias = terms.bias.map(|b| b.narrow(0, first, n)).transpose()?;
            let terms = ScoreTerms {
                bias: bias.as_ref(),
                ..terms
            };
            let head = |t: &Tensor| Ok::<_, candle_core::Error>(t.narrow(0, first, n)?.detach());
            let scores = scores(&head(q)?, &head(k)?, self.scaled)?;
            let weights = self.weights(&scores, terms, causal_mask_off)?;
            let head_outputs = weights.matmul(&head(v)?)?;
            Ok([scores, weights, head_outputs])
        };
        let (heads_n, queries, _) = q.dims3()?;
        let score_dims = [heads_n, queries, k.dim(1)?];
        let output_dims = [heads_n, queries, v.dim(2)?];
        let [scores, weights, head_outputs] =
            by_head_blocks(heads_n, [&score_dims, &score_dims, &output_dims], heads)?;
        if !(q.track_op() || k.track_op() || v.track_op()) {
            return Ok((scores, weights, head_outputs));
        }
        if terms.bias.is_some_and(Tensor::track_op) {
            candle_core::bail!("attention's score bias depends on the input: no gradient for it")
        }
        let scale = score_scale(q.dim(D::Minus1)?, self.scaled);
        let head_outputs = on_gradient_path(q, k, v, &weights, &head_outputs, scale)?;
        Ok((scores, weights, head_outputs))
    }

    /// The projected keys and values [heads, keys, d_head] of rows [keys, d_model] (the
    /// encoder's output, which a writing decoder attends to at every step).
    pub fn project_keys_values(&self, rows: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        self.keys_and_values(&LayerInput::new(rows)?, 0)
    }

    /// Keys and values [heads, keys, d_head] of `input`, one per query head; its first row is
    /// position `first_position`.
    fn keys_and_values(
        &self,
        input: &LayerInput,
        first_position: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let k = self.rotate(input.heads(&self.key, self.n_kv_head)?, first_position)?;
        let v = input.heads(&self.value, self.n_kv_head)?;
        let group = self.n_head / self.n_kv_head;
        Ok((repeat_kv(k, group)?, repeat_kv(v, group)?))
    }

    /// softmax(scores + B + M) over the keys; the causal mask alone (GPT-2, Llama) is applied
    /// inside the softmax, with no masked copy of the scores.
    fn weights(
        &self,
        scores: &Tensor,
        terms: ScoreTerms,
        causal_mask_off: bool,
    ) -> candle_core::Result<Tensor> {
        if terms.bias.is_none() && terms.visible_keys.is_none() {
            let causal = self.causal && !causal_mask_off;
            return kernels::softmax_over_keys(scores, causal);
        }
        softmax_over_keys(&self.masked_scores(scores, terms, causal_mask_off)?)
    }

    /// The scores the softmax reads: + B, then −∞ for every key a query may not see.
    fn masked_scores(
        &self,
        scores: &Tensor,
        terms: ScoreTerms,
        causal_mask_off: bool,
    ) -> candle_core::Result<Tensor> {
        let mut masked = match terms.bias {
            Some(bias) => scores.broadcast_add(bias)?,
            None => scores.clone(),
        };
        if self.causal && !causal_mask_off {
            masked = causal_mask(&masked)?;
        }
        if let Some(visible) = terms.visible_keys {
            masked = hide_keys(&masked, visible)?;
        }
        Ok(masked)
    }

    /// Queries or keys [heads, tokens, d_head] whose first row is position `first_position`,
    /// rotated by position (rotary models), else as they are.
    fn rotate(&self, xs: Tensor, first_position: usize) -> candle_core::Result<Tensor> {
        match &self.rotary {
            Some(rotary) => rotary.rotate(&xs, first_position),
            None => Ok(xs),
        }
    }
}

/// Head outputs [heads, tokens, d_head] with the `heads` switched off: zeros, or each one's mean
/// over the tokens. A product with a 0/1 mask, so saliency's gradient flows through the rest.
fn switch_off(outputs: Tensor, heads: &[usize], ablation: Ablation) -> candle_core::Result<Tensor> {
    if heads.is_empty() {
        return Ok(outputs);
    }
    let n_head = outputs.dim(0)?;
    let keep: Vec<f32> = (0..n_head)
        .map(|h| if heads.contains(&h) { 0.0 } else { 1.0 })
        .collect();
    let keep = Tensor::from_vec(keep, (n_head, 1, 1), outputs.device())?;
    let kept = outputs.broadcast_mul(&keep)?;
    match ablation {
        Ablation::Zero => Ok(kept),
        Ablation::Mean => {
            let mean = outputs.mean_keepdim(1)?;
            kept.broadcast_add(&mean.broadcast_mul(&(1.0 - keep)?)?)
        }
    }
}

/// The scores QKᵀ/√dₖ of queries [.., query, dₖ] and keys [.., key, dₖ] [.., query, key];
/// QKᵀ alone when not `scaled`.
pub(crate) fn scores(q: &Tensor, k: &Tensor, scaled: bool) -> candle_core::Result<Tensor> {
    let dot_products = q.matmul(&k.t()?)?;
    match scaled {
        true => dot_products * score_scale(q.dim(D::Minus1)?, scaled),
        false => Ok(dot_products),
    }
}

/// The factor of QKᵀ in the scores: 1/√dₖ, or 1 when not `scaled`.
fn score_scale(d_k: usize, scaled: bool) -> f64 {
    match scaled {
        true => 1.0 / (d_k as f64).sqrt(),
        false => 1.0,
    }
}

/// Softmax over the keys of masked scores [.., query, key] (off the gradient path); every row
/// sums to 1 and a −∞ score gets exactly 0.
pub(crate) fn softmax_over_keys(masked_scores: &Tensor) -> candle_core::Result<Tensor> {
    kernels::softmax_over_keys(masked_scores, false)
}

/// Sets every score of a key after its query to −∞, so softmax gives it exactly 0. With more
/// keys than queries the queries are the last positions (the keys before them are earlier ones).
pub(crate) fn causal_mask(scores: &Tensor) -> candle_core::Result<Tensor> {
    let n_keys = scores.dim(D::Minus1)?;
    let n_queries = scores.dim(D::Minus2)?;
    let earlier = n_keys.saturating_sub(n_queries) as u32;
    let queries = Tensor::arange(earlier, earlier + n_queries as u32, scores.device())?;
    let keys = Tensor::arange(0u32, n_keys as u32, scores.device())?;
    let visible = queries.unsqueeze(1)?.broadcast_ge(&keys.unsqueeze(0)?)?;
    let minus_infinity = Tensor::full(f32::NEG_INFINITY, scores.shape(), scores.device())?;
    visible
        .broadcast_as(scores.shape())?
        .where_cond(scores, &minus_infinity)
}

/// Sets the scores of hidden keys (`visible` [key] is 0) to −∞ for every query.
fn hide_keys(scores: &Tensor, visible: &Tensor) -> candle_core::Result<Tensor> {
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
    /// cos and sin of every angle for the positions `positions`, each [positions, d_head/2].
    /// Computed per call (positions × d_head/2 values): a table for the model's whole
    /// context would be sized by a number read from the file.
    pub fn cos_sin(&self, positions: Range<usize>) -> candle_core::Result<(Tensor, Tensor)> {
        let device = candle_core::Device::Cpu;
        let half = self.d_head / 2;
        let inverse_frequencies: Vec<f32> = (0..half)
            .map(|i| (1.0 / self.theta.powf(2.0 * i as f64 / self.d_head as f64)) as f32)
            .collect();
        let inverse_frequencies = Tensor::from_vec(inverse_frequencies, (1, half), &device)?;
        let n_positions = positions.len();
        let positions = Tensor::arange(positions.start as u32, positions.end as u32, &device)?
            .to_dtype(candle_core::DType::F32)?
            .reshape((n_positions, 1))?;
        let angles = positions.broadcast_mul(&inverse_frequencies)?;
        Ok((angles.cos()?, angles.sin()?))
    }

    /// Rotates [heads, tokens, d_head] by each token's position, the first token's being
    /// `first_position`. candle-nn's composed `rope_slow`, not the fused `rope`: saliency needs
    /// the backward pass, which the fused op lacks.
    pub fn rotate(&self, xs: &Tensor, first_position: usize) -> candle_core::Result<Tensor> {
        let first = first_position;
        let (cos, sin) = self.cos_sin(first..first + xs.dim(1)?)?;
        candle_nn::rotary_emb::rope_slow(&xs.unsqueeze(0)?, &cos, &sin)?.squeeze(0)
    }
}
