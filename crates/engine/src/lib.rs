//! The engine: real models, instrumented. Pure Rust on candle; compiles natively and to wasm.
//!
//! Bytes in (config.json, tokenizer.json, model.safetensors or one .gguf) → [`Model`] →
//! [`Trace`], [`Predictions`], [`LogitLens`] and [`Saliency`], all computed in f32 on the CPU.
//!
//! A family is one file (`gpt2.rs`, `bert.rs`, `llama.rs` …) whose blocks implement
//! `network::Block` and whose model implements `network::Network`; `network::forward` is the one
//! loop that runs them, and `recorder::Recorder` decides what a pass keeps. `matmul.rs` decides
//! how products are computed, so the model code reads like the model.
mod activation;
mod analysis;
mod anatomy;
mod append;
mod attention;
mod attention_gradient;
mod bart;
mod bert;
mod checkpoint;
mod config;
mod distilbert;
mod encoder_decoder;
mod error;
mod generation;
mod gguf;
mod gpt2;
mod kernels;
mod lab;
mod layers;
mod llama;
mod matmul;
mod model;
mod network;
mod norm_gradient;
mod parallel;
mod positional;
mod random;
mod recorder;
mod sampling;
mod t5;
#[cfg(feature = "threads")]
mod team;
mod tokenizer;
mod toy;
mod trace;
mod translation;
mod values;

use candle_core::Device;

pub use activation::Activation;
pub use ae_messages::FACTOR_RANGE;
pub use analysis::nmf::{factorise, neuron_factors, Factorisation};
pub use analysis::{
    induction_stripe, repeated_random_tokens, PredictionLogits, INDUCTION_PERIOD, MAX_RANKED_TOKENS,
};
pub use append::TracedText;
pub use attention::Rotary;
pub use checkpoint::{to_half_precision, ByteSource, Checkpoint};
pub use config::ModelConfig;
pub use error::{
    ConfigDamage, Damage, EngineError, GgufDamage, ModelWarning, Result, TokenizerDamage,
    WeightsDamage,
};
pub use gguf::is_gguf;
pub use layers::Linear;
pub use model::{Model, PageTraceParts};
pub use parallel::{cut_work_ms, parallel_regions, pieces, set_clock, set_pieces, with_team};
pub use positional::{
    cosine_similarity, positional_encodings, rotary_view, sinusoidal_position_encoding,
};
pub use recorder::LayerRecord;
pub use sampling::{sample_token, surviving_count};
pub use tokenizer::TextTokenizer;
pub use toy::toy_attention;
pub use trace::{layer_trace, to_array};
// The engine's answers are the messages' types (re-exported so a caller needs one crate).
pub use ae_messages::{
    Ablation, Anatomy, Architecture, Array, AttentionInternals, AttentionKind, Candidate, Decoding,
    EncoderDecoderTrace, FeedForwardInternals, Generation, HeadId, HeadImportance, Interventions,
    LayerTrace, LensLayer, LogitLens, ModelFile, ModelPart, PageTrace, PairSaliency,
    PositionPredictions, PositionalEncodings, Predictions, RankedToken, Rankings, RotaryView,
    Saliency, SamplingSettings, TokenizedText, Trace, WatchedToken, Weight, Work, MAX_BEAM_WIDTH,
};
