//! The full trace of one forward pass as plain arrays: what crosses the worker boundary and what
//! the CLI writes. Arrays are flat row-major f32 with their shape, so they travel as typed arrays.
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::config::{Architecture, ModelConfig};
use super::error::Result;
use super::forward::ForwardPass;

/// A row-major f32 array with its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Copies a tensor out of candle.
    pub fn from_tensor(tensor: &Tensor) -> Result<Self> {
        Ok(Array {
            shape: tensor.dims().to_vec(),
            data: tensor.flatten_all()?.to_vec1::<f32>()?,
        })
    }

    /// Stacks equally shaped tensors along a new first axis (one per layer).
    pub fn stack(tensors: &[Tensor]) -> Result<Self> {
        Self::from_tensor(&Tensor::stack(tensors, 0)?)
    }

    /// The sub-array at `index` of the first axis, e.g. one layer of a [layer, …] array.
    pub fn slice(&self, index: usize) -> &[f32] {
        let stride: usize = self.shape[1..].iter().product();
        &self.data[index * stride..(index + 1) * stride]
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

/// Everything the panels show about one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
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
    /// Rows attention reads per layer [layer, token, d_model] (after ln_1 for GPT-2).
    pub attention_inputs: Array,
    /// Queries [layer, head, token, d_head].
    pub q: Array,
    /// Keys [layer, head, token, d_head].
    pub k: Array,
    /// Values [layer, head, token, d_head].
    pub v: Array,
    /// q·kᵀ/√d_head before masking [layer, head, query, key]. The masked scores the softmax
    /// reads are not stored: [`Trace::masked_scores`] derives them from these and `causal`.
    pub scores: Array,
    /// Attention probabilities, = HF `output_attentions` [layer, head, query, key].
    pub attentions: Array,
    /// probs·V per head [layer, head, token, d_head].
    pub head_outputs: Array,
    /// Attention output after the output projection [layer, token, d_model].
    pub attention_outputs: Array,
    /// MLP hidden layer after the activation [layer, token, d_ff]; `None` in the page's trace
    /// (no panel shows it, and it is 4 × d_model values per token to carry across).
    pub mlp_activations: Option<Array>,
    /// = HF `output_hidden_states` [layer + 1, token, d_model] (GPT-2's last entry after ln_f).
    pub hidden_states: Array,
    /// Final logits at every position [token, vocab]; `None` for a model without a head.
    pub logits: Option<Array>,
}

impl Trace {
    /// Whether the softmax gave `key` no weight for `query`: a decoder's query never sees a
    /// later token (the engine sets those scores to −∞ before the softmax).
    pub fn is_masked(&self, query: usize, key: usize) -> bool {
        self.causal && key > query
    }

    /// The scores the softmax read [layer, head, query, key]: `scores`, with −∞ where
    /// [`Trace::is_masked`]. Derived rather than stored — it would be as large as `scores`
    /// (GPT-2 at 512 tokens: 151 MB) for nothing but the −∞ cells.
    pub fn masked_scores(&self) -> Array {
        let n_keys = self.scores.shape.last().copied().unwrap_or(0);
        let n_queries = self.scores.shape.iter().rev().nth(1).copied().unwrap_or(0);
        let data = self
            .scores
            .data
            .iter()
            .enumerate()
            .map(|(i, &score)| {
                let (query, key) = ((i / n_keys.max(1)) % n_queries.max(1), i % n_keys.max(1));
                if self.is_masked(query, key) {
                    f32::NEG_INFINITY
                } else {
                    score
                }
            })
            .collect();
        Array {
            shape: self.scores.shape.clone(),
            data,
        }
    }

    /// Copies a recorded forward pass out of candle; the MLP's hidden layer only when
    /// `with_mlp_activations`.
    pub(crate) fn from_forward(
        config: &ModelConfig,
        input_ids: Vec<u32>,
        tokens: Vec<String>,
        token_embeddings: &Tensor,
        pass: &ForwardPass,
        logits: Option<&Tensor>,
        with_mlp_activations: bool,
    ) -> Result<Self> {
        let per_layer = |field: fn(&super::forward::LayerRecord) -> &Tensor| -> Result<Array> {
            Array::stack(
                &pass
                    .layers
                    .iter()
                    .map(|layer| field(layer).clone())
                    .collect::<Vec<_>>(),
            )
        };
        let mut hidden_states = pass.residual_streams.clone();
        if let Some(last) = hidden_states.last_mut() {
            *last = pass.final_hidden.clone();
        }
        Ok(Trace {
            architecture: config.architecture,
            causal: config.architecture.is_causal(),
            input_ids,
            tokens,
            token_embeddings: Array::from_tensor(token_embeddings)?,
            position_embeddings: pass
                .position_embeddings
                .as_ref()
                .map(Array::from_tensor)
                .transpose()?,
            n_kv_head: config.n_kv_head,
            embedding_sum: Array::from_tensor(&pass.embedding_sum)?,
            attention_inputs: per_layer(|l| &l.attention_input)?,
            q: per_layer(|l| &l.attention.q)?,
            k: per_layer(|l| &l.attention.k)?,
            v: per_layer(|l| &l.attention.v)?,
            scores: per_layer(|l| &l.attention.scores)?,
            attentions: per_layer(|l| &l.attention.probs)?,
            head_outputs: per_layer(|l| &l.attention.head_outputs)?,
            attention_outputs: per_layer(|l| &l.attention_output)?,
            mlp_activations: with_mlp_activations
                .then(|| per_layer(|l| &l.mlp_activations))
                .transpose()?,
            hidden_states: Array::stack(&hidden_states)?,
            logits: logits.map(Array::from_tensor).transpose()?,
        })
    }
}
