//! The engine's errors are `ae_messages::EngineError`, structured so the page can word each in
//! its language; this adds how candle's errors while building a model from its tensors are
//! reported.
pub use ae_messages::{
    describe_candle_error, ConfigDamage, Damage, EngineError, GgufDamage, ModelWarning, Quantity,
    Result, TokenizerDamage, WeightsDamage,
};

/// What a candle error raised while building a model from its tensors says about them.
pub(crate) fn tensor_damage(err: &candle_core::Error) -> WeightsDamage {
    use candle_core::Error as E;
    match err {
        E::WithBacktrace { inner, .. } => tensor_damage(inner),
        E::CannotFindTensor { path } => WeightsDamage::MissingTensor {
            tensor: path.clone(),
        },
        // The checkpoint's tensor server puts the tensor's name in `msg`.
        E::UnexpectedShape { msg, expected, got } => WeightsDamage::WrongShape {
            tensor: msg.clone(),
            expected: expected.dims().to_vec(),
            found: got.dims().to_vec(),
        },
        other => WeightsDamage::Unusable {
            detail: describe_candle_error(other),
        },
    }
}

/// A candle error raised while building a model from model.safetensors.
pub(crate) fn weights_error(err: candle_core::Error) -> EngineError {
    EngineError::weights(tensor_damage(&err))
}
