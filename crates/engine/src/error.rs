//! The engine's errors are `ae_messages::EngineError`, structured so the page can word each in
//! its language; this adds how candle's errors while loading weights are reported.
pub use ae_messages::{describe_candle_error, EngineError, Result};

/// A candle error raised while reading weights, as a damaged model.safetensors.
pub(crate) fn weights_error(err: candle_core::Error) -> EngineError {
    EngineError::weights(format!(
        "{}. Check that config.json and model.safetensors come from the same checkpoint.",
        describe_candle_error(&err)
    ))
}
