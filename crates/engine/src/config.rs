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
    /// The decoder's shape and the special tokens of an encoder–decoder (T5, BART, Marian); the
    /// fields above then describe the encoder.
    pub encoder_decoder: Option<EncoderDecoderConfig>,
}

/// What an encoder–decoder's config.json says beyond its encoder's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderDecoderConfig {
    /// Decoder blocks.
    pub decoder_layers: usize,
    /// Decoder attention heads (self and cross).
    pub decoder_heads: usize,
    /// Width of the decoder's MLP hidden layer.
    pub decoder_ffn: usize,
    /// Width of one attention head (T5's `d_kv`: heads × d_head need not equal d_model).
    pub d_head: usize,
    /// The token the decoder starts from.
    pub decoder_start_token_id: u32,
    /// The padding token: a source token with this id is hidden from attention.
    pub pad_token_id: u32,
    /// The token that ends a generated target.
    pub eos_token_id: u32,
    /// What the token embedding rows are multiplied by (√d_model when `scale_embedding`).
    pub embedding_scale: f64,
    /// T5's relative position buckets; `None` for models that add positions to the input.
    pub relative_attention: Option<RelativeAttentionConfig>,
    /// Whether the MLP is gated (flan-t5's `gated-gelu`): act(x·W₀) ⊙ (x·W₁).
    pub gated_mlp: bool,
    /// Whether the decoder's output is scaled by 1/√d_model before a tied head (T5).
    pub scale_decoder_outputs: bool,
}

/// T5's relative position buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeAttentionConfig {
    /// Number of buckets (`relative_attention_num_buckets`).
    pub buckets: usize,
    /// Distances from here on share the last bucket (`relative_attention_max_distance`).
    pub max_distance: usize,
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
                    encoder_decoder: None,
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
                encoder_decoder: None,
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
                encoder_decoder: None,
            },
            Architecture::Llama => return Err(EngineError::config(ConfigDamage::LlamaNeedsGguf)),
            Architecture::T5 => t5_config(&field)?,
            Architecture::Bart | Architecture::Marian => bart_config(architecture, &field)?,
        };
        config.validate()
    }

    /// Heads and MLP width of the encoder's blocks (`decoder` false) or the decoder's.
    pub fn heads_and_mlp_width(&self, decoder: bool) -> (usize, usize) {
        match (&self.encoder_decoder, decoder) {
            (Some(seq2seq), true) => (seq2seq.decoder_heads, seq2seq.decoder_ffn),
            _ => (self.n_head, self.d_ff),
        }
    }

    /// Whether the feed-forward network is gated (Llama's SwiGLU, flan-t5's gated GELU), with an
    /// up projection beside the gate.
    pub fn gated_mlp(&self) -> bool {
        self.architecture == Architecture::Llama
            || self.encoder_decoder.as_ref().is_some_and(|s| s.gated_mlp)
    }

    /// Width of one attention head.
    pub fn d_head(&self) -> usize {
        match &self.encoder_decoder {
            Some(seq2seq) => seq2seq.d_head,
            None => self.d_model / self.n_head,
        }
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
        if self.encoder_decoder.is_none() && !self.d_model.is_multiple_of(self.n_head) {
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

/// T5 and flan-t5: relative position buckets, RMS norms, an optional gated MLP, heads of
/// `d_kv` width.
fn t5_config(field: &Fields) -> Result<ModelConfig> {
    let n_layer = field.usize(&["num_layers"])?;
    let feed_forward = field.string_or("feed_forward_proj", "relu")?;
    let (gated_mlp, activation) = match feed_forward.strip_prefix("gated-") {
        // transformers reads "gated-gelu" as the tanh GELU.
        Some("gelu") => (true, Activation::GeluTanh),
        Some(name) => (true, Activation::parse(name)?),
        None => (false, Activation::parse(&feed_forward)?),
    };
    let n_head = field.usize(&["num_heads"])?;
    let d_ff = field.usize(&["d_ff"])?;
    let pad_token_id = field.optional_u32("pad_token_id")?.unwrap_or(0);
    Ok(ModelConfig {
        architecture: Architecture::T5,
        n_layer,
        n_head,
        n_kv_head: n_head,
        d_model: field.usize(&["d_model"])?,
        d_ff,
        vocab_size: field.usize(&["vocab_size"])?,
        // Relative positions set no limit; transformers' tokenizers cut at n_positions (512).
        max_positions: field.optional_usize("n_positions")?.unwrap_or(512),
        type_vocab_size: 0,
        layer_norm_eps: field.f64_or("layer_norm_epsilon", 1e-6)?,
        activation,
        rope_theta: None,
        encoder_decoder: Some(EncoderDecoderConfig {
            decoder_layers: field
                .optional_usize("num_decoder_layers")?
                .unwrap_or(n_layer),
            decoder_heads: n_head,
            decoder_ffn: d_ff,
            d_head: field.usize(&["d_kv"])?,
            decoder_start_token_id: field
                .optional_u32("decoder_start_token_id")?
                .unwrap_or(pad_token_id),
            pad_token_id,
            eos_token_id: field.optional_u32("eos_token_id")?.unwrap_or(1),
            embedding_scale: 1.0,
            relative_attention: Some(RelativeAttentionConfig {
                buckets: field
                    .optional_usize("relative_attention_num_buckets")?
                    .unwrap_or(32),
                max_distance: field
                    .optional_usize("relative_attention_max_distance")?
                    .unwrap_or(128),
            }),
            gated_mlp,
            // transformers 5 writes `scale_decoder_outputs`; older configs mean it by a tied head.
            scale_decoder_outputs: match field.optional_bool("scale_decoder_outputs")? {
                Some(scale) => scale,
                None => field.optional_bool("tie_word_embeddings")? != Some(false),
            },
        }),
    })
}

/// BART and Marian: learned (BART) or sinusoidal (Marian) positions added to the input,
/// post-norm blocks, embeddings scaled by √d_model when `scale_embedding`.
fn bart_config(architecture: Architecture, field: &Fields) -> Result<ModelConfig> {
    let d_model = field.usize(&["d_model"])?;
    let n_head = field.usize(&["encoder_attention_heads"])?;
    let decoder_heads = field.usize(&["decoder_attention_heads"])?;
    let pad_token_id = field.optional_u32("pad_token_id")?.unwrap_or(1);
    let scale_embedding = field.optional_bool("scale_embedding")?.unwrap_or(false);
    if !d_model.is_multiple_of(decoder_heads) {
        return Err(EngineError::config(ConfigDamage::WidthNotDivisible {
            width: d_model,
            heads: decoder_heads,
        }));
    }
    Ok(ModelConfig {
        architecture,
        n_layer: field.usize(&["encoder_layers"])?,
        n_head,
        n_kv_head: n_head,
        d_model,
        d_ff: field.usize(&["encoder_ffn_dim"])?,
        vocab_size: field.usize(&["vocab_size"])?,
        max_positions: field.usize(&["max_position_embeddings"])?,
        type_vocab_size: 0,
        layer_norm_eps: 1e-5,
        activation: Activation::parse(&field.string_or("activation_function", "gelu")?)?,
        rope_theta: None,
        encoder_decoder: Some(EncoderDecoderConfig {
            decoder_layers: field.usize(&["decoder_layers"])?,
            decoder_heads,
            decoder_ffn: field.usize(&["decoder_ffn_dim"])?,
            d_head: d_model / n_head.max(1),
            decoder_start_token_id: field
                .optional_u32("decoder_start_token_id")?
                .unwrap_or(pad_token_id),
            pad_token_id,
            eos_token_id: field.optional_u32("eos_token_id")?.unwrap_or(2),
            embedding_scale: if scale_embedding {
                (d_model as f64).sqrt()
            } else {
                1.0
            },
            relative_attention: None,
            gated_mlp: false,
            scale_decoder_outputs: false,
        }),
    })
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
        "t5" => Some(Architecture::T5),
        "bart" => Some(Architecture::Bart),
        "marian" => Some(Architecture::Marian),
        _ => None,
    };
    let by_class = if first_architecture.starts_with("GPT2") {
        Some(Architecture::Gpt2)
    } else if first_architecture.starts_with("DistilBert") {
        Some(Architecture::DistilBert)
    } else if first_architecture.starts_with("Bert") {
        Some(Architecture::Bert)
    } else if first_architecture.starts_with("T5") {
        Some(Architecture::T5)
    } else if first_architecture.starts_with("Bart") {
        Some(Architecture::Bart)
    } else if first_architecture.starts_with("Marian") {
        Some(Architecture::Marian)
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

    fn optional_u32(&self, name: &str) -> Result<Option<u32>> {
        match self.optional_usize(name)? {
            None => Ok(None),
            Some(value) => u32::try_from(value).map(Some).map_err(|_| {
                EngineError::config(ConfigDamage::NotWholeNumber {
                    name: name.to_string(),
                    value: Some(value.to_string()),
                })
            }),
        }
    }

    fn optional_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(value) => Err(EngineError::config(ConfigDamage::NotTrueOrFalse {
                name: name.to_string(),
                value: Some(value.to_string()),
            })),
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
