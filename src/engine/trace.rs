//! The full trace of one forward pass as plain arrays: what crosses the worker boundary and what
//! the CLI writes. Arrays are flat row-major f32 with their shape, so they travel as typed arrays.
use candle_core::{CpuStorage, Storage, Tensor};
use serde::{Deserialize, Serialize};

use super::config::{Architecture, ModelConfig};
use super::error::{EngineError, Result};
use super::forward::{ForwardPass, LayerRecord};

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

    /// Stacks equally shaped tensors along a new first axis (one per layer), each copied
    /// straight into the one buffer: a stacked tensor in between would be one more copy of
    /// them all (GPT-2's attention weights at 1024 tokens: 604 MB).
    pub fn stack(tensors: &[Tensor]) -> Result<Self> {
        let Some(first) = tensors.first() else {
            return Err(EngineError::Compute("nothing to stack".into()));
        };
        let mut shape = vec![tensors.len()];
        shape.extend(first.dims());
        let mut data = Vec::with_capacity(shape.iter().product());
        for tensor in tensors {
            if tensor.dims() != first.dims() {
                return Err(EngineError::Compute(format!(
                    "cannot stack a {:?} tensor onto {:?} ones",
                    tensor.dims(),
                    first.dims()
                )));
            }
            let (storage, layout) = tensor.storage_and_layout();
            match (&*storage, layout.contiguous_offsets()) {
                (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) => {
                    data.extend_from_slice(&values[start..end])
                }
                _ => data.extend(tensor.flatten_all()?.to_vec1::<f32>()?),
            }
        }
        Ok(Array { shape, data })
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

/// Everything the engine records about one input (what the CLI writes): the page's part, and
/// every layer's attention internals, MLP activations and logits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The embeddings, attention weights and hidden states the page receives.
    #[serde(flatten)]
    pub page: PageTrace,
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
    /// probs·V per head [layer, head, token, d_head].
    pub head_outputs: Array,
    /// Attention output after the output projection [layer, token, d_model].
    pub attention_outputs: Array,
    /// MLP hidden layer after the activation [layer, token, d_ff]; only when asked for (it is
    /// 4 × d_model values per token).
    pub mlp_activations: Option<Array>,
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
}

/// One layer's attention internals, as [`Trace`] holds them for every layer (the same arrays
/// without the layer axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTrace {
    /// Which layer (0-based).
    pub layer: usize,
    /// Rows attention reads [token, d_model].
    pub attention_inputs: Array,
    /// Queries [head, token, d_head].
    pub q: Array,
    /// Keys [head, token, d_head].
    pub k: Array,
    /// Values [head, token, d_head].
    pub v: Array,
    /// q·kᵀ/√d_head before masking [head, query, key].
    pub scores: Array,
    /// probs·V per head [head, token, d_head].
    pub head_outputs: Array,
    /// Attention output after the output projection [token, d_model].
    pub attention_outputs: Array,
}

/// One layer's attention internals as candle tensors: the worker keeps these after a page trace
/// and copies a [`LayerTrace`] out of them when the page asks for that layer.
#[derive(Debug, Clone)]
pub struct LayerTensors {
    attention_input: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scores: Tensor,
    head_outputs: Tensor,
    attention_output: Tensor,
}

impl LayerTensors {
    /// Keeps what a [`LayerTrace`] needs of a recorded block (not its masked scores,
    /// probabilities — the page trace has those — or MLP activations).
    pub(crate) fn of(record: &LayerRecord) -> Self {
        LayerTensors {
            attention_input: record.attention_input.clone(),
            q: record.attention.q.clone(),
            k: record.attention.k.clone(),
            v: record.attention.v.clone(),
            scores: record.attention.scores.clone(),
            head_outputs: record.attention.head_outputs.clone(),
            attention_output: record.attention_output.clone(),
        }
    }

    /// Copies the arrays out of candle as layer `layer`.
    pub fn to_layer_trace(&self, layer: usize) -> Result<LayerTrace> {
        Ok(LayerTrace {
            layer,
            attention_inputs: Array::from_tensor(&self.attention_input)?,
            q: Array::from_tensor(&self.q)?,
            k: Array::from_tensor(&self.k)?,
            v: Array::from_tensor(&self.v)?,
            scores: Array::from_tensor(&self.scores)?,
            head_outputs: Array::from_tensor(&self.head_outputs)?,
            attention_outputs: Array::from_tensor(&self.attention_output)?,
        })
    }
}

impl PageTrace {
    /// Copies the page's part of a recorded forward pass out of candle.
    pub(crate) fn from_forward(
        config: &ModelConfig,
        input_ids: Vec<u32>,
        tokens: Vec<String>,
        token_embeddings: &Tensor,
        pass: &ForwardPass,
    ) -> Result<Self> {
        let attentions: Vec<Tensor> = pass
            .layers
            .iter()
            .map(|layer| layer.attention.probs.clone())
            .collect();
        Ok(PageTrace {
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
            attentions: Array::stack(&attentions)?,
            hidden_states: Array::stack(&pass.hidden_states())?,
        })
    }

    /// Whether the softmax gave `key` no weight for `query`: a decoder's query never sees a
    /// later token (the engine sets those scores to −∞ before the softmax).
    pub fn is_masked(&self, query: usize, key: usize) -> bool {
        self.causal && key > query
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
        let n_keys = self.scores.shape.last().copied().unwrap_or(0);
        let n_queries = self.scores.shape.iter().rev().nth(1).copied().unwrap_or(0);
        let data = self
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
        let per_layer = |field: fn(&LayerRecord) -> &Tensor| -> Result<Array> {
            Array::stack(
                &pass
                    .layers
                    .iter()
                    .map(|layer| field(layer).clone())
                    .collect::<Vec<_>>(),
            )
        };
        Ok(Trace {
            page: PageTrace::from_forward(config, input_ids, tokens, token_embeddings, pass)?,
            attention_inputs: per_layer(|l| &l.attention_input)?,
            q: per_layer(|l| &l.attention.q)?,
            k: per_layer(|l| &l.attention.k)?,
            v: per_layer(|l| &l.attention.v)?,
            scores: per_layer(|l| &l.attention.scores)?,
            head_outputs: per_layer(|l| &l.attention.head_outputs)?,
            attention_outputs: per_layer(|l| &l.attention_output)?,
            mlp_activations: with_mlp_activations
                .then(|| per_layer(|l| &l.mlp_activations))
                .transpose()?,
            logits: logits.map(Array::from_tensor).transpose()?,
        })
    }
}
