//! One error type for the engine; every message says what is wrong and what to do.
use std::fmt;

/// Everything that can go wrong between bytes and a trace.
#[derive(Debug)]
pub enum EngineError {
    /// config.json is not JSON, names an unsupported architecture or lacks a field.
    Config(String),
    /// tokenizer.json could not be read or used.
    Tokenizer(String),
    /// model.safetensors is unreadable, or a tensor is missing or has the wrong shape.
    Weights(String),
    /// The request does not fit the model (empty text, no [MASK], position out of range …).
    Input(String),
    /// The checkpoint has no language-model head, so it cannot predict tokens.
    NoPredictionHead(String),
    /// A tensor operation failed; this is a bug in the engine, not in the user's input.
    Compute(String),
    /// A .gguf file (metadata, tokenizer or tensors) that cannot be used.
    Gguf(String),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, EngineError>;

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Config(msg) => write!(f, "config.json: {msg}"),
            EngineError::Tokenizer(msg) => write!(f, "tokenizer.json: {msg}"),
            EngineError::Weights(msg) => write!(f, "model.safetensors: {msg}"),
            EngineError::Input(msg) => write!(f, "{msg}"),
            EngineError::NoPredictionHead(model) => write!(
                f,
                "this model has no prediction head ({model} checkpoint): attention and hidden \
                 states work, but predictions and saliency need GPT-2, DistilBERT or BERT with \
                 its masked-LM head"
            ),
            EngineError::Compute(msg) => write!(f, "internal computation error: {msg}"),
            EngineError::Gguf(msg) => write!(f, "the .gguf file: {msg}"),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<candle_core::Error> for EngineError {
    fn from(err: candle_core::Error) -> Self {
        EngineError::Compute(describe_candle_error(&err))
    }
}

/// candle's message without backtraces or context wrappers, for showing to a person.
pub(crate) fn describe_candle_error(err: &candle_core::Error) -> String {
    use candle_core::Error as E;
    match err {
        E::WithBacktrace { inner, .. } => describe_candle_error(inner),
        E::Context { inner, context } => format!("{context}: {}", describe_candle_error(inner)),
        E::CannotFindTensor { path } => format!("the tensor `{path}` is missing"),
        E::UnexpectedShape { msg, expected, got } => {
            format!(
                "{msg}: expected shape {:?}, found {:?}",
                expected.dims(),
                got.dims()
            )
        }
        other => other.to_string(),
    }
}

/// Turns a candle error raised while reading weights into a [`EngineError::Weights`].
pub(crate) fn weights_error(err: candle_core::Error) -> EngineError {
    EngineError::Weights(format!(
        "{}. Check that config.json and model.safetensors come from the same checkpoint.",
        describe_candle_error(&err)
    ))
}
