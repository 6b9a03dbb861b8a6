//! The trace of one forward pass as plain arrays: what crosses the worker boundary and what the
//! CLI writes. Arrays are flat row-major f32 with their shape, so they travel as typed arrays.
use serde::{Deserialize, Serialize};

use crate::{Architecture, ResidualNorms};

/// A row-major f32 array with its shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Array {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major; masked scores hold −∞. Serialised as little-endian bytes so
    /// they cross the worker boundary as one typed array, not a list of numbers.
    #[serde(with = "f32_bytes")]
    pub data: Vec<f32>,
}

/// Serde for `Vec<f32>` as little-endian bytes.
mod f32_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    // The values' own memory, viewed as bytes: wasm and the CPUs this runs on are
    // little-endian, so no per-value conversion or second buffer is needed.
    pub fn serialize<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytemuck::cast_slice(values))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom(
                "f32 data must be a multiple of 4 bytes",
            ));
        }
        // One copy into an f32-aligned buffer.
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

impl Array {
    /// The shape as exactly `N` dimensions, or `None` for another rank:
    /// `let Some([layers, heads, queries, keys]) = attentions.dims() else { … }`.
    pub fn dims<const N: usize>(&self) -> Option<[usize; N]> {
        self.shape.as_slice().try_into().ok()
    }

    /// The values under a leading index: `block(&[layer])` is one layer of a
    /// [layer, head, query, key] array, `block(&[layer, head])` one head's matrix. `None` when
    /// the index has more entries than the array has axes or is out of range.
    pub fn block(&self, index: &[usize]) -> Option<&[f32]> {
        if index.len() > self.shape.len() {
            return None;
        }
        let mut start = 0;
        for (&i, &size) in index.iter().zip(&self.shape) {
            if i >= size {
                return None;
            }
            start = start * size + i;
        }
        let size: usize = self.shape[index.len()..].iter().product();
        self.data.get(start * size..(start + 1) * size)
    }

    /// One innermost row: `index` names every axis but the last (e.g. [layer, head, query] of
    /// attention weights gives that query's weights over the keys).
    pub fn row(&self, index: &[usize]) -> Option<&[f32]> {
        (index.len() + 1 == self.shape.len())
            .then(|| self.block(index))
            .flatten()
    }

    /// One value: `index` names every axis.
    pub fn value(&self, index: &[usize]) -> Option<f32> {
        (index.len() == self.shape.len())
            .then(|| self.block(index))
            .flatten()
            .and_then(|values| values.first().copied())
    }

    /// The sub-array at `index` of the first axis, as an array of its own (one layer of a
    /// [layer, …] array).
    pub fn sub_array(&self, index: usize) -> Option<Array> {
        Some(Array {
            shape: self.shape.get(1..)?.to_vec(),
            data: self.block(&[index])?.to_vec(),
        })
    }

    /// The array as nested JSON lists ([layer][head][query][key] …); −∞ becomes `null`.
    pub fn to_nested_json(&self) -> serde_json::Value {
        fn nest(shape: &[usize], data: &[f32]) -> serde_json::Value {
            match shape {
                [] => serde_json::Value::from(data[0] as f64),
                [_] => data
                    .iter()
                    .map(|&x| serde_json::Value::from(x as f64))
                    .collect(),
                [n, rest @ ..] => {
                    let stride = data.len() / n.max(&1);
                    (0..*n)
                        .map(|i| nest(rest, &data[i * stride..(i + 1) * stride]))
                        .collect()
                }
            }
        }
        nest(&self.shape, &self.data)
    }
}

/// One layer's attention internals, held as candle tensors in the engine, as [`Array`]s for the
/// page ([`LayerTrace`]) and, with a leading layer axis, in a [`Trace`]. The shapes below are one
/// layer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionInternals<T> {
    /// Rows attention reads [token, d_model]: after ln_1 for GPT-2, the block input for BERT.
    pub attention_input: T,
    /// Queries [head, token, d_head], after the rotation for rotary models.
    pub q: T,
    /// Keys [head, token, d_head], after the rotation for rotary models. With grouped-query
    /// attention each query head's row is the key/value head it reads, so heads in one group
    /// hold the same keys.
    pub k: T,
    /// Values [head, token, d_head], one per query head as for `k`.
    pub v: T,
    /// q·kᵀ/√d_head before any mask [head, query, key]. The masked scores the softmax read are
    /// not kept ([`Trace::masked_scores`] derives them): they are as large, and kept they
    /// brought the worker to the 4 GB that wasm32 can address.
    pub scores: T,
    /// weights·V, each head's output [head, token, d_head].
    pub head_outputs: T,
    /// The attention output after the output projection, before the residual add
    /// [token, d_model].
    pub attention_output: T,
}

impl<T> AttentionInternals<T> {
    /// The fields in declaration order (the one place besides the declaration that lists them).
    fn fields(&self) -> [&T; 7] {
        [
            &self.attention_input,
            &self.q,
            &self.k,
            &self.v,
            &self.scores,
            &self.head_outputs,
            &self.attention_output,
        ]
    }

    fn from_fields(
        [attention_input, q, k, v, scores, head_outputs, attention_output]: [T; 7],
    ) -> Self {
        AttentionInternals {
            attention_input,
            q,
            k,
            v,
            scores,
            head_outputs,
            attention_output,
        }
    }

    /// Each field through `f`.
    pub fn try_map<U, E>(
        &self,
        f: impl FnMut(&T) -> std::result::Result<U, E>,
    ) -> std::result::Result<AttentionInternals<U>, E> {
        let mapped = self.fields().into_iter().map(f);
        Ok(AttentionInternals::from_fields(collect_seven(mapped)?))
    }

    /// Each field across `layers` through `f`: every layer's `q` to one value, every layer's
    /// `k` to another, … (the engine stacks them into arrays with a layer axis).
    pub fn try_across<U, E>(
        layers: &[Self],
        mut f: impl FnMut(Vec<&T>) -> std::result::Result<U, E>,
    ) -> std::result::Result<AttentionInternals<U>, E> {
        let per_field = (0..7).map(|i| f(layers.iter().map(|l| l.fields()[i]).collect()));
        Ok(AttentionInternals::from_fields(collect_seven(per_field)?))
    }
}

/// One layer's position-wise feed-forward network (the MLP): what it reads, its two matrices'
/// outputs and the activation between them. As for [`AttentionInternals`], the shapes are one
/// layer's; a [`Trace`] gives each a leading layer axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedForwardInternals<T> {
    /// The residual sum the norm before the network reads [token, d_model]: the stream plus
    /// attention's output (in a decoder block also cross-attention's).
    pub norm_input: T,
    /// That norm's learned scale γ [d_model].
    pub norm_scale: T,
    /// Its shift β [d_model]; `None` for an RMS norm (Llama, T5).
    pub norm_shift: Option<T>,
    /// What the network reads [token, d_model]: the second norm's output in a pre-norm block
    /// (GPT-2's ln_2, Llama's post_attention_layernorm), attention's add & norm in a post-norm
    /// one (BERT, DistilBERT, BART).
    pub input: T,
    /// The first matrix's output, before the activation [token, d_ff]; in a gated network
    /// (Llama's SwiGLU, flan-t5) the gate projection.
    pub pre_activations: T,
    /// A gated network's up projection [token, d_ff]; `None` otherwise.
    pub up: Option<T>,
    /// After the activation [token, d_ff] (gated: activation(gate) × up): what the second
    /// matrix reads, Ecco's neuron activations.
    pub activations: T,
    /// The second matrix's output, before the residual add [token, d_model].
    pub output: T,
}

impl<T> FeedForwardInternals<T> {
    /// Each field through `f`.
    pub fn try_map<U, E>(
        &self,
        mut f: impl FnMut(&T) -> std::result::Result<U, E>,
    ) -> std::result::Result<FeedForwardInternals<U>, E> {
        Ok(FeedForwardInternals {
            norm_input: f(&self.norm_input)?,
            norm_scale: f(&self.norm_scale)?,
            norm_shift: self.norm_shift.as_ref().map(&mut f).transpose()?,
            input: f(&self.input)?,
            pre_activations: f(&self.pre_activations)?,
            up: self.up.as_ref().map(&mut f).transpose()?,
            activations: f(&self.activations)?,
            output: f(&self.output)?,
        })
    }

    /// The fields by the names the trace CLI's JSON gives them (and the reference fixtures):
    /// `ln2_inputs`, `ln2_weights`, `ln2_biases` (LayerNorms only) and `ln2_outputs` (the norm
    /// before the network, whichever it is), `mlp_pre_activations`, `mlp_up` (gated networks
    /// only), `mlp_activations` and `mlp_outputs`.
    pub fn named_fields(&self) -> Vec<(&'static str, &T)> {
        let mut fields = vec![
            ("ln2_inputs", &self.norm_input),
            ("ln2_weights", &self.norm_scale),
        ];
        fields.extend(self.norm_shift.as_ref().map(|shift| ("ln2_biases", shift)));
        fields.extend([
            ("ln2_outputs", &self.input),
            ("mlp_pre_activations", &self.pre_activations),
        ]);
        fields.extend(self.up.as_ref().map(|up| ("mlp_up", up)));
        fields.extend([
            ("mlp_activations", &self.activations),
            ("mlp_outputs", &self.output),
        ]);
        fields
    }

    /// Each field across `layers` through `f`, as [`AttentionInternals::try_across`] does
    /// (`up` only when every layer has one).
    pub fn try_across<U, E>(
        layers: &[Self],
        mut f: impl FnMut(Vec<&T>) -> std::result::Result<U, E>,
    ) -> std::result::Result<FeedForwardInternals<U>, E> {
        let ups: Option<Vec<&T>> = layers.iter().map(|l| l.up.as_ref()).collect();
        let shifts: Option<Vec<&T>> = layers.iter().map(|l| l.norm_shift.as_ref()).collect();
        Ok(FeedForwardInternals {
            norm_input: f(layers.iter().map(|l| &l.norm_input).collect())?,
            norm_scale: f(layers.iter().map(|l| &l.norm_scale).collect())?,
            norm_shift: shifts.filter(|s| !s.is_empty()).map(&mut f).transpose()?,
            input: f(layers.iter().map(|l| &l.input).collect())?,
            pre_activations: f(layers.iter().map(|l| &l.pre_activations).collect())?,
            up: ups.filter(|u| !u.is_empty()).map(&mut f).transpose()?,
            activations: f(layers.iter().map(|l| &l.activations).collect())?,
            output: f(layers.iter().map(|l| &l.output).collect())?,
        })
    }
}

/// Everything the engine records about one input (what the CLI writes): the page's part, and
/// every layer's attention internals, feed-forward internals and logits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The embeddings, attention weights and hidden states the page receives.
    #[serde(flatten)]
    pub page: PageTrace,
    /// Every layer's attention internals, each with a leading layer axis.
    pub attention: AttentionInternals<Array>,
    /// Every layer's feed-forward internals, each with a leading layer axis.
    pub feed_forward: FeedForwardInternals<Array>,
    /// Final logits at every position [token, vocab]; `None` for a model without a head.
    pub logits: Option<Array>,
}

/// What the page receives for one input: every layer's attention weights (the overview draws
/// them all), the embeddings and hidden states, but not the attention internals — those come one
/// layer at a time as [`LayerTrace`]s, the layer on screen with the trace and any other on
/// request. Sending every layer's scores, Q, K, V and head outputs at once made the worker → page
/// copy a large share of a long text's trace (GPT-2 at 512 tokens: 470 MB instead of ~190).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageTrace {
    /// The model family.
    pub architecture: Architecture,
    /// Whether attention was causally masked (decoders).
    pub causal: bool,
    /// Token ids of the input.
    pub input_ids: Vec<u32>,
    /// Display strings of the tokens.
    pub tokens: Vec<String>,
    /// Token embedding rows [token, d_model].
    pub token_embeddings: Array,
    /// Position embedding rows [token, d_model]; `None` for rotary models (Llama), which rotate
    /// q and k by position instead of adding anything to the input.
    pub position_embeddings: Option<Array>,
    /// Key/value heads per layer: equal to the number of heads unless attention is grouped, in
    /// which case query head h reads key/value head h / (heads / n_kv_head).
    pub n_kv_head: usize,
    /// Their sum (+ segment embedding for BERT), before any norm [token, d_model].
    pub embedding_sum: Array,
    /// Attention probabilities, = HF `output_attentions` [layer, head, query, key].
    pub attentions: Array,
    /// = HF `output_hidden_states` [layer + 1, token, d_model] (GPT-2's last entry after ln_f).
    pub hidden_states: Array,
    /// The residual stream's size and what each sublayer adds to it.
    pub residual_norms: ResidualNorms,
    /// Keys the padding mask hid from every query (the lab's padded text); empty: none.
    #[serde(default)]
    pub hidden_keys: Vec<bool>,
}

/// One layer's internals, as the page receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTrace {
    /// Which layer (0-based).
    pub layer: usize,
    /// Its attention's internals.
    pub internals: AttentionInternals<Array>,
    /// Its feed-forward network's.
    pub feed_forward: FeedForwardInternals<Array>,
}

/// The three attentions of an encoder–decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// The encoder's self-attention over the source: both ways, padding hidden.
    EncoderSelf,
    /// The decoder's self-attention over the target: causal.
    DecoderSelf,
    /// The decoder's attention to the source: queries from the target, keys and values from
    /// the encoder's output, padding hidden.
    Cross,
}

/// One stack of an encoder–decoder's trace: the encoder's over the source or the decoder's
/// over the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackTrace {
    /// Token ids (the target's start with the decoder start token).
    pub input_ids: Vec<u32>,
    /// Display strings of the tokens.
    pub tokens: Vec<String>,
    /// Token embedding rows, before any scale [token, d_model].
    pub token_embeddings: Array,
    /// Position rows added to the input [token, d_model]; `None` for T5's relative positions.
    pub position_embeddings: Option<Array>,
    /// Scaled token embeddings + positions, before any norm [token, d_model].
    pub embedding_sum: Array,
    /// Self-attention probabilities [layer, head, query, key].
    pub attentions: Array,
    /// = HF `encoder_hidden_states` / `decoder_hidden_states` [layer + 1, token, d_model] (the
    /// last after the stack's final norm, if it has one).
    pub hidden_states: Array,
    /// Every layer's self-attention internals, each with a leading layer axis.
    pub attention: AttentionInternals<Array>,
    /// T5's relative position bias added to every layer's scores [head, query, key].
    pub position_bias: Option<Array>,
    /// T5's bias by distance, beyond this text's length: what [`position_bias`] reads from.
    ///
    /// [`position_bias`]: StackTrace::position_bias
    pub relative_positions: Option<RelativePositions>,
    /// Every layer's feed-forward internals, each with a leading layer axis.
    pub feed_forward: FeedForwardInternals<Array>,
}

/// T5's relative positions: every key − query distance up to the model's `max_distance` (the
/// decoder, which sees no later key: only distances ≤ 0), its bucket, and each head's learned
/// bias for that bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativePositions {
    /// Key position − query position, ascending, one apart.
    pub distances: Vec<i64>,
    /// The bucket of each distance.
    pub buckets: Vec<u32>,
    /// The bias each head adds at each distance [head, distance].
    pub bias: Array,
}

/// Everything an encoder–decoder computes for one (source, target) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderDecoderTrace {
    /// The model family.
    pub architecture: Architecture,
    /// The encoder over the source.
    pub source: StackTrace,
    /// The decoder over the target.
    pub target: StackTrace,
    /// Which source tokens attention may see (false: padding).
    pub source_visible: Vec<bool>,
    /// Cross-attention probabilities [layer, head, target, source].
    pub cross_attentions: Array,
    /// Every layer's cross-attention internals: q [layer, head, target, d_head], k and v
    /// [layer, head, source, d_head], scores [layer, head, target, source] ….
    pub cross_attention: AttentionInternals<Array>,
    /// Logits at every target position [target, vocab].
    pub logits: Array,
}

impl EncoderDecoderTrace {
    /// The scores the softmax read for one kind [layer, head, query, key]: the scores plus
    /// any position bias, −∞ where the key is padding or (decoder) later than the query.
    pub fn masked_scores(&self, kind: AttentionKind) -> Array {
        let scores = self.scores_and_bias(kind).0;
        let [_, heads, queries, keys] = scores.dims().unwrap_or([0; 4]);
        let data = scores
            .data
            .iter()
            .enumerate()
            .map(|(i, &score)| {
                let (key, query) = (i % keys.max(1), (i / keys.max(1)) % queries.max(1));
                let head = (i / (keys * queries).max(1)) % heads.max(1);
                self.masked_score(kind, head, query, key, score)
            })
            .collect();
        Array {
            shape: scores.shape.clone(),
            data,
        }
    }

    /// One query's row of [`masked_scores`](Self::masked_scores), computed alone.
    pub fn masked_score_row(
        &self,
        kind: AttentionKind,
        layer: usize,
        head: usize,
        query: usize,
    ) -> Vec<f32> {
        let scores = self.scores_and_bias(kind).0;
        let row = scores.row(&[layer, head, query]).unwrap_or_default();
        row.iter()
            .enumerate()
            .map(|(key, &score)| self.masked_score(kind, head, query, key, score))
            .collect()
    }

    /// One kind's traced scores [layer, head, query, key] and the position bias added to them.
    fn scores_and_bias(&self, kind: AttentionKind) -> (&Array, Option<&Array>) {
        match kind {
            AttentionKind::EncoderSelf => (
                &self.source.attention.scores,
                self.source.position_bias.as_ref(),
            ),
            AttentionKind::DecoderSelf => (
                &self.target.attention.scores,
                self.target.position_bias.as_ref(),
            ),
            AttentionKind::Cross => (&self.cross_attention.scores, None),
        }
    }

    /// A score as the softmax read it: + the bias, −∞ where the key is hidden from the query.
    fn masked_score(
        &self,
        kind: AttentionKind,
        head: usize,
        query: usize,
        key: usize,
        score: f32,
    ) -> f32 {
        let hidden = match kind {
            AttentionKind::DecoderSelf => key > query,
            _ => !self.source_visible.get(key).copied().unwrap_or(true),
        };
        if hidden {
            return f32::NEG_INFINITY;
        }
        let bias = self.scores_and_bias(kind).1;
        score
            + bias
                .and_then(|b| b.value(&[head, query, key]))
                .unwrap_or(0.0)
    }
}

/// Seven results into an array of seven values, or the first error.
fn collect_seven<U, E>(
    values: impl Iterator<Item = std::result::Result<U, E>>,
) -> std::result::Result<[U; 7], E> {
    let values: Vec<U> = values.collect::<std::result::Result<_, _>>()?;
    let Ok(seven) = <[U; 7]>::try_from(values) else {
        unreachable!("seven fields in, seven out")
    };
    Ok(seven)
}

impl PageTrace {
    /// Whether the softmax gave `key` no weight for `query`: a decoder's query never sees a
    /// later token, and no query sees a padding token the padding mask hides (the engine sets
    /// those scores to −∞ before the softmax).
    pub fn is_masked(&self, query: usize, key: usize) -> bool {
        (self.causal && key > query) || self.hidden_keys.get(key).copied().unwrap_or(false)
    }

    /// Layers and heads, from the attention weights' shape.
    pub fn layers_and_heads(&self) -> (usize, usize) {
        match self.attentions.shape[..] {
            [layers, heads, ..] => (layers, heads),
            _ => (0, 0),
        }
    }
}

impl Trace {
    /// The scores the softmax read [layer, head, query, key]: `scores`, with −∞ where
    /// [`PageTrace::is_masked`]. Derived rather than stored — it would be as large as `scores`
    /// (GPT-2 at 512 tokens: 151 MB) for nothing but the −∞ cells.
    pub fn masked_scores(&self) -> Array {
        let n_keys = self.attention.scores.shape.last().copied().unwrap_or(0);
        let n_queries = self
            .attention
            .scores
            .shape
            .iter()
            .rev()
            .nth(1)
            .copied()
            .unwrap_or(0);
        let data = self
            .attention
            .scores
            .data
            .iter()
            .enumerate()
            .map(|(i, &score)| {
                let (query, key) = ((i / n_keys.max(1)) % n_queries.max(1), i % n_keys.max(1));
                if self.page.is_masked(query, key) {
                    f32::NEG_INFINITY
                } else {
                    score
                }
            })
            .collect();
        Array {
            shape: self.attention.scores.shape.clone(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Array;

    /// A [2, 3, 4] array whose value at [i, j, k] is i·100 + j·10 + k.
    fn numbered() -> Array {
        let data = (0..2)
            .flat_map(|i| {
                (0..3).flat_map(move |j| (0..4).map(move |k| (i * 100 + j * 10 + k) as f32))
            })
            .collect();
        Array {
            shape: vec![2, 3, 4],
            data,
        }
    }

    #[test]
    fn views_find_the_values_by_index_and_refuse_what_is_not_there() {
        let array = numbered();
        assert_eq!(array.dims::<3>(), Some([2, 3, 4]));
        assert_eq!(array.dims::<2>(), None);
        assert_eq!(array.row(&[1, 2]), Some(&[120.0, 121.0, 122.0, 123.0][..]));
        assert_eq!(array.row(&[1]), None, "a row names every axis but the last");
        assert_eq!(array.row(&[2, 0]), None);
        assert_eq!(array.row(&[0, 3]), None);
        assert_eq!(array.value(&[1, 0, 3]), Some(103.0));
        assert_eq!(array.value(&[1, 0, 4]), None);
        assert_eq!(array.block(&[1]).map(<[f32]>::len), Some(12));
        assert_eq!(array.block(&[]).map(<[f32]>::len), Some(24));
        assert_eq!(array.block(&[0, 0, 0, 0]), None);
        let layer = array.sub_array(1).expect("layer 1");
        assert_eq!(layer.shape, vec![3, 4]);
        assert_eq!(layer.value(&[2, 1]), Some(121.0));
        assert_eq!(array.sub_array(2), None);
    }
}
