//! The engine: real models, instrumented. Pure Rust on candle; compiles natively and to wasm.
//!
//! Bytes in (config.json, tokenizer.json, model.safetensors) → [`Model`] → [`Trace`],
//! [`Predictions`], [`LogitLens`] and [`Saliency`], all computed in f32 on the CPU.
mod attention;
mod bert;
mod checkpoint;
mod config;
mod distilbert;
mod error;
mod forward;
mod gguf;
mod gpt2;
mod layers;
mod llama;
mod model;
mod positional;
mod sampling;
mod tokenizer;
mod trace;

use candle_core::Device;

pub use attention::{AttentionRecord, Rotary};
pub use checkpoint::{to_half_precision, ByteSource, Checkpoint};
pub use config::{Activation, Architecture, ModelConfig};
pub use error::{EngineError, Result};
pub use gguf::is_gguf;
pub use layers::{tune_matmul, Linear};
pub use model::{
    Candidate, LensLayer, LogitLens, Model, PageTraceParts, PositionPredictions, PredictionLogits,
    Predictions, Saliency,
};
pub use positional::{
    cosine_similarity, positional_encodings, rotary_view, sinusoidal_position_encoding,
    PositionalEncodings, RotaryView,
};
pub use sampling::{sample_token, surviving_count, SamplingSettings};
pub use tokenizer::{TextTokenizer, TokenizedText};
pub use trace::{Array, LayerTensors, LayerTrace, PageTrace, Trace};
