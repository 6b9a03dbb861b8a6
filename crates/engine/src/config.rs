//! Reads a Hugging Face config.json into the few numbers the engine needs.
use serde_json::Value;

use super::activation::Activation;
use super::error::{ConfigDamage, EngineError, Quantity, Result};
use ae_messages::Architecture;

/// Everything the engine reads from config.json, with the family's field names unified.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Which forward pass to run.
    pub architecture: Architecture,
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Attention (query) heads per block.
    pub n_head: usize,
    /// Key/value heads per block: fewer than `n_head` with grouped-query attention, where query
    /// head h reads key/value head h / (n_head / n_kv_head).
    pub n_kv_head: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Width of the MLP's hidden layer.
    pub d_ff: usize,
    /// Number of token ids.
    pub vocab_size: usize,
    /// Longest input, in tokens (the size of the position table).
    pub max_positions: usize,
    /// Token types (BERT's segment embeddings); 0 when the model has none.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// MLP activation.
    pub activation: Activation,
    /// The rotary embedding's base θ (`rope_theta`) for models that rotate q and k by position
    /// instead of adding a position embedding.
    pub rope_theta: Option<f64>,
}

impl ModelConfig {
    /// Parses config.json, choosing the architecture from `model_type` or `architectures`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let json: Value = serde_json::from_slice(bytes).map_err(|e| {
            EngineError::config(ConfigDamage::NotJson {
                detail: e.to_string(),
            })
        })?;
        let architecture = detect_architecture(&json)?;
        let field = Fields(&json);
        let config = match architecture {
            Architecture::Gpt2 => {
                let d_model = field.usize(&["n_embd"])?;
                ModelConfig {
                    architecture,
                    n_layer: field.usize(&["n_layer"])?,
                    n_head: field.usize(&["n_head"])?,
                    n_kv_head: field.usize(&["n_head"])?,
                    d_model,
                    d_ff: field.optional_usize("n_inner")?.unwrap_or(4 * d_model),
                    vocab_size: field.usize(&["vocab_size"])?,
                    max_positions: field.usize(&["n_positions", "n_ctx"])?,
                    type_vocab_size: 0,
                    layer_norm_eps: field.f64_or("layer_norm_epsilon", 1e-5)?,
                    activation: Activation::parse(
                        &field.string_or("activation_function", "gelu_new")?,
                    )?,
                    rope_theta: None,
                }
            }
            Architecture::DistilBert => ModelConfig {
                architecture,
                n_layer: field.usize(&["n_layers"])?,
                n_head: field.usize(&["n_heads"])?,
                n_kv_head: field.usize(&["n_heads"])?,
                d_model: field.usize(&["dim"])?,
                d_ff: field.usize(&["hidden_dim"])?,
                vocab_size: field.usize(&["vocab_size"])?,
                max_positions: field.usize(&["max_position_embeddings"])?,
                type_vocab_size: 0,
                // DistilBERT's LayerNorm epsilon is fixed in its code, not in config.json.
                layer_norm_eps: 1e-12,
                activation: Activation::parse(&field.string_or("activation", "gelu")?)?,
                rope_theta: None,
            },
            Architecture::Bert => ModelConfig {
                architecture,
                n_layer: field.usize(&["num_hidden_layers"])?,
                n_head: field.usize(&["num_attention_heads"])?,
                n_kv_head: field.usize(&["num_attention_heads"])?,
                d_model: field.usize(&["hidden_size"])?,
                d_ff: field.usize(&["intermediate_size"])?,
                vocab_size: field.usize(&["vocab_size"])?,
                max_positions: field.usize(&["max_position_embeddings"])?,
                type_vocab_size: field.optional_usize("type_vocab_size")?.unwrap_or(2),
                layer_norm_eps: field.f64_or("layer_norm_eps", 1e-12)?,
                activation: Activation::parse(&field.string_or("hidden_act", "gelu")?)?,
                rope_theta: None,
            },
            Architecture::Llama => return Err(EngineError::config(ConfigDamage::LlamaNeedsGguf)),
        };
        config.validate()
    }

    /// Width of one attention head.
    pub fn d_head(&self) -> usize {
        self.d_model / self.n_head
    }

    /// Checks the numbers are usable: nothing zero, heads divide the width and the key/value
    /// heads divide the query heads.
    pub(crate) fn validate(self) -> Result<Self> {
        for (quantity, value) in [
            (Quantity::Layers, self.n_layer),
            (Quantity::Heads, self.n_head),
            (Quantity::KeyValueHeads, self.n_kv_head),
            (Quantity::Width, self.d_model),
            (Quantity::MlpWidth, self.d_ff),
            (Quantity::Vocabulary, self.vocab_size),
            (Quantity::Positions, self.max_positions),
        ] {
            if value == 0 {
                return Err(EngineError::config(ConfigDamage::ZeroSize { quantity }));
            }
        }
        if !self.d_model.is_multiple_of(self.n_head) {
            return Err(EngineError::config(ConfigDamage::WidthNotDivisible {
                width: self.d_model,
                heads: self.n_head,
            }));
        }
        if !self.n_head.is_multiple_of(self.n_kv_head) {
            return Err(EngineError::config(ConfigDamage::HeadsNotShared {
                heads: self.n_head,
                kv_heads: self.n_kv_head,
            }));
        }
        Ok(self)
    }
}

fn detect_architecture(json: &Value) -> Result<Architecture> {
    let model_type = json.get("model_type").and_then(Value::as_str).unwrap_or("");
    let first_architecture = json
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let by_type = match model_type {
        "gpt2" => Some(Architecture::Gpt2),
        "distilbert" => Some(Architecture::DistilBert),
        "bert" => Some(Architecture::Bert),
        "llama" => Some(Architecture::Llama),
        _ => None,
    };
    let by_class = if first_architecture.starts_with("GPT2") {
        Some(Architecture::Gpt2)
    } else if first_architecture.starts_with("DistilBert") {
        Some(Architecture::DistilBert)
    } else if first_architecture.starts_with("Bert") {
        Some(Architecture::Bert)
    } else {
        None
    };
    by_type
        .or(by_class)
        .ok_or_else(|| EngineError::UnsupportedArchitecture {
            model_type: model_type.to_string(),
            class: first_architecture.to_string(),
        })
}

/// Typed access to config.json fields with messages that name the field.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn usize(&self, names: &[&str]) -> Result<usize> {
        for name in names {
            if let Some(value) = self.optional_usize(name)? {
                return Ok(value);
            }
        }
        Err(EngineError::config(ConfigDamage::MissingField {
            names: names.iter().map(|name| name.to_string()).collect(),
        }))
    }

    fn optional_usize(&self, name: &str) -> Result<Option<usize>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| {
                    EngineError::config(ConfigDamage::NotWholeNumber {
                        name: name.to_string(),
                        value: Some(value.to_string()),
                    })
                }),
        }
    }

    fn f64_or(&self, name: &str, default: f64) -> Result<f64> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value.as_f64().ok_or_else(|| {
                EngineError::config(ConfigDamage::NotNumber {
                    name: name.to_string(),
                    value: Some(value.to_string()),
                })
            }),
        }
    }

    fn string_or(&self, name: &str, default: &str) -> Result<String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(value) => Err(EngineError::config(ConfigDamage::NotText {
                name: name.to_string(),
                value: Some(value.to_string()),
            })),
        }
    }
}
