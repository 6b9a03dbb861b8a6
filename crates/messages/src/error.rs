//! Everything that can go wrong between bytes and a trace, as structured values: the worker
//! sends them to the page, which words each in its own language (`error.*` strings); `Display`
//! is the English wording the CLI and the tests use. Every message says what is wrong and what
//! to do.
use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the files a model comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFile {
    /// config.json.
    Config,
    /// tokenizer.json (or GPT-2's encoder.json and vocab.bpe).
    Tokenizer,
    /// model.safetensors.
    Weights,
    /// A single .gguf file (numbers, tokenizer and weights).
    Gguf,
}

impl fmt::Display for ModelFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelFile::Config => "config.json",
            ModelFile::Tokenizer => "tokenizer.json",
            ModelFile::Weights => "model.safetensors",
            ModelFile::Gguf => "the .gguf file",
        })
    }
}

/// Work the worker measures against its memory before starting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// A trace of a text.
    Trace,
    /// Gradient×input saliency of a text.
    Saliency,
}

/// Why the engine or the worker could not do what was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineError {
    /// There is no text (no tokens) to run.
    TextEmpty,
    /// The text is longer than the model reads.
    TextTooLong { tokens: usize, max: usize },
    /// A masked language model was given a text without its mask token.
    NoMask { mask: String },
    /// A masked language model whose vocabulary has no mask token.
    NoMaskInVocabulary,
    /// A token id outside the model's vocabulary: the tokenizer belongs to another model.
    TokenOutOfVocabulary { id: u32, vocab: usize },
    /// A saliency target outside the vocabulary.
    TargetOutOfVocabulary { id: u32, vocab: usize },
    /// A temperature that is not a positive number.
    BadTemperature { temperature: f32 },
    /// Top-k of 0 or top-p outside (0, 1].
    BadSampling { top_k: usize, top_p: f32 },
    /// A position past the end of the text.
    PositionOutOfRange { position: usize, tokens: usize },
    /// A model family the engine does not implement.
    UnsupportedArchitecture { model_type: String, class: String },
    /// A model file that cannot be used; `what` says what is wrong with it (in English: it
    /// quotes the file).
    DamagedFile { file: ModelFile, what: String },
    /// A file that could not be read at all (the command-line tools).
    CannotRead { path: String, reason: String },
    /// The checkpoint has no language-model head, so it cannot predict tokens.
    NoPredictionHead { architecture: String },
    /// A request that needs a model before one is loaded.
    NoModel,
    /// Work whose attention arrays would not fit in the 4 GB of a browser's wasm memory.
    OutOfMemory {
        work: Work,
        tokens: usize,
        gigabytes: f64,
        longest: usize,
    },
    /// A layer of a trace the worker no longer holds.
    TraceGone,
    /// A layer the model does not have (0-based `layer`).
    LayerOutOfRange { layer: usize, layers: usize },
    /// A positional-encoding view outside what the panel draws (`d_model` for the sinusoidal
    /// view, `None` for the rotary one).
    ViewOutOfRange {
        positions: usize,
        d_model: Option<usize>,
        max_positions: usize,
        max_width: usize,
    },
    /// A rotary view asked of a model that adds learned positions.
    NoRotaryView,
    /// A request the page never makes (a malformed message, or a tool's request out of range).
    BadRequest { what: String },
    /// A tensor operation failed: a bug in the engine, not in the user's input.
    Compute { message: String },
}

impl EngineError {
    /// config.json cannot be used.
    pub fn config(what: impl Into<String>) -> Self {
        Self::damaged(ModelFile::Config, what)
    }

    /// tokenizer.json cannot be used.
    pub fn tokenizer(what: impl Into<String>) -> Self {
        Self::damaged(ModelFile::Tokenizer, what)
    }

    /// model.safetensors cannot be used.
    pub fn weights(what: impl Into<String>) -> Self {
        Self::damaged(ModelFile::Weights, what)
    }

    /// The .gguf file cannot be used.
    pub fn gguf(what: impl Into<String>) -> Self {
        Self::damaged(ModelFile::Gguf, what)
    }

    /// A bug: a computation that should not fail did.
    pub fn compute(message: impl Into<String>) -> Self {
        EngineError::Compute {
            message: message.into(),
        }
    }

    /// A request out of range that only tools make.
    pub fn bad_request(what: impl Into<String>) -> Self {
        EngineError::BadRequest { what: what.into() }
    }

    fn damaged(file: ModelFile, what: impl Into<String>) -> Self {
        EngineError::DamagedFile {
            file,
            what: what.into(),
        }
    }
}

/// The result type of the engine and the worker.
pub type Result<T> = std::result::Result<T, EngineError>;

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EngineError as E;
        match self {
            E::TextEmpty => write!(f, "The text is empty: type a few words first."),
            E::TextTooLong { tokens, max } => write!(
                f,
                "The text has {tokens} tokens but this model reads at most {max}; shorten it."
            ),
            E::NoMask { mask } => write!(f, "Input must include the mask token {mask}"),
            E::NoMaskInVocabulary => write!(
                f,
                "tokenizer.json: this masked language model's vocabulary has no mask token"
            ),
            E::TokenOutOfVocabulary { id, vocab } => write!(
                f,
                "token id {id} is outside the model's vocabulary of {vocab} tokens: the tokenizer \
                 does not belong to this model"
            ),
            E::TargetOutOfVocabulary { id, vocab } => write!(
                f,
                "target token id {id} is outside the vocabulary of {vocab} tokens"
            ),
            E::BadTemperature { temperature } => write!(
                f,
                "temperature must be a positive number, not {temperature}"
            ),
            E::BadSampling { top_k, top_p } => write!(
                f,
                "top-k must be at least 1 and top-p in (0, 1], not {top_k} and {top_p}"
            ),
            E::PositionOutOfRange { position, tokens } => write!(
                f,
                "position {position} is past the end of the {tokens} tokens"
            ),
            E::UnsupportedArchitecture { model_type, class } => write!(
                f,
                "config.json: the model type `{model_type}` ({class}) is not supported; \
                 Attention Explorer runs GPT-2, DistilBERT and BERT checkpoints, and Llama-family \
                 models from a .gguf file"
            ),
            E::DamagedFile { file, what } => write!(f, "{file}: {what}"),
            E::CannotRead { path, reason } => write!(f, "cannot read {path}: {reason}"),
            E::NoPredictionHead { architecture } => write!(
                f,
                "this model has no prediction head ({architecture} checkpoint): attention and \
                 hidden states work, but predictions and saliency need GPT-2, DistilBERT or BERT \
                 with its masked-LM head"
            ),
            E::NoModel => write!(f, "No model is loaded yet: pick one first."),
            E::OutOfMemory {
                work,
                tokens,
                gigabytes,
                longest,
            } => {
                let work = match work {
                    Work::Trace => "A trace",
                    Work::Saliency => "Saliency",
                };
                write!(
                    f,
                    "{work} over {tokens} tokens would need about {gigabytes:.1} GB of memory for \
                     the attention alone, more than the 4 GB a browser gives this page's model. \
                     Shorten the text to at most {longest} tokens."
                )
            }
            E::TraceGone => write!(
                f,
                "that trace is no longer in the worker: trace the text again"
            ),
            E::LayerOutOfRange { layer, layers } => write!(
                f,
                "layer {} does not exist: the model has {layers} layers",
                layer + 1
            ),
            E::ViewOutOfRange {
                positions,
                d_model: Some(d_model),
                max_positions,
                max_width,
            } => write!(
                f,
                "positions must be 1–{max_positions} and d_model 2–{max_width}, not {positions} \
                 and {d_model}"
            ),
            E::ViewOutOfRange {
                positions,
                d_model: None,
                max_positions,
                ..
            } => write!(f, "positions must be 1–{max_positions}, not {positions}"),
            E::NoRotaryView => write!(
                f,
                "this model adds position embeddings; it has no rotary view"
            ),
            E::BadRequest { what } => write!(f, "{what}"),
            E::Compute { message } => write!(f, "internal computation error: {message}"),
        }
    }
}

impl std::error::Error for EngineError {}

#[cfg(feature = "candle")]
impl From<candle_core::Error> for EngineError {
    fn from(err: candle_core::Error) -> Self {
        EngineError::compute(describe_candle_error(&err))
    }
}

/// candle's message without backtraces or context wrappers, for showing to a person.
#[cfg(feature = "candle")]
pub fn describe_candle_error(err: &candle_core::Error) -> String {
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
