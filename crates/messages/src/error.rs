//! Everything that can go wrong between bytes and a trace, as structured values: the worker
//! sends them to the page, which words each in its own language with
//! [`EngineError::words`] (`wording.rs`); `Display` is the English wording, for the CLI and the
//! tests. Every message says what is wrong and what to do.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Lang;

/// One of the files a model comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFile {
    /// config.json.
    Config,
    /// tokenizer.json (or GPT-2's encoder.json and vocab.bpe).
    Tokenizer,
    /// target_tokenizer.json: a Marian translator's target side ([`TARGET_TOKENIZER_FILE`]).
    TargetTokenizer,
    /// model.safetensors.
    Weights,
    /// A single .gguf file (numbers, tokenizer and weights).
    Gguf,
}

/// A translator's target-side tokenizer, beside tokenizer.json (tools/convert_marian_tokenizer.py
/// writes it from target.spm); optional.
pub const TARGET_TOKENIZER_FILE: &str = "target_tokenizer.json";

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
    /// More watched tokens than the rankings grid shows.
    TooManyWatchedTokens { given: usize, max: usize },
    /// A text longer than the rankings grid reads (the lens at every position costs a head
    /// pass per layer).
    TooLongForRankings { tokens: usize, max: usize },
    /// A factor count outside what the factorisation offers.
    BadFactorCount {
        factors: usize,
        min: usize,
        max: usize,
    },
    /// A head to switch off that the model does not have (0-based `layer` and `head`).
    NoSuchHead {
        layer: usize,
        head: usize,
        layers: usize,
        heads: usize,
    },
    /// The causal mask switched off on a model that has none (an encoder reads both ways).
    NoCausalMask { architecture: String },
    /// A mask or padding change asked of an encoder–decoder, whose lab switches heads off only.
    LabHeadsOnly { architecture: String },
    /// The lab's second text is longer than the model reads (it is compared, not truncated).
    SecondTextTooLong { tokens: usize, max: usize },
    /// The induction detector asked of a model that is not a decoder.
    InductionNeedsDecoder { architecture: String },
    /// An induction sequence whose period does not fit: two copies and a start token must fit
    /// the model's positions.
    InductionPeriod { period: usize, max: usize },
    /// Padding asked of a model that is not an encoder (a decoder's text is not padded).
    PaddingNeedsEncoder { architecture: String },
    /// Padding to fewer tokens than the text already has.
    PadShorterThanText { pad_to: usize, tokens: usize },
    /// A tokenizer without a padding token.
    NoPaddingToken,
    /// A model family the engine does not implement.
    UnsupportedArchitecture { model_type: String, class: String },
    /// A model file that cannot be used, and what is wrong with it.
    DamagedFile { file: ModelFile, damage: Damage },
    /// A file that could not be read at all (the command-line tools).
    CannotRead { path: String, reason: String },
    /// The checkpoint has no language-model head, so it cannot predict tokens.
    NoPredictionHead { architecture: String },
    /// A source–target request (cross-attention, translation) to a model that reads one text.
    NotEncoderDecoder { architecture: String },
    /// A one-text request to an encoder–decoder, which needs a source (and a target so far).
    NeedsSource { architecture: String },
    /// A source longer than the encoder reads.
    SourceTooLong { tokens: usize, max: usize },
    /// A target (the decoder start token and what follows) longer than the decoder reads.
    TargetTooLong { tokens: usize, max: usize },
    /// A beam search width outside 1..=max.
    BadBeamWidth { width: usize, max: usize },
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
    pub fn config(damage: ConfigDamage) -> Self {
        Self::damaged(ModelFile::Config, Damage::Config(damage))
    }

    /// tokenizer.json cannot be used.
    pub fn tokenizer(damage: TokenizerDamage) -> Self {
        Self::damaged(ModelFile::Tokenizer, Damage::Tokenizer(damage))
    }

    /// model.safetensors cannot be used.
    pub fn weights(damage: WeightsDamage) -> Self {
        Self::damaged(ModelFile::Weights, Damage::Weights(damage))
    }

    /// The .gguf file cannot be used.
    pub fn gguf(damage: Damage) -> Self {
        Self::damaged(ModelFile::Gguf, damage)
    }

    /// The .gguf file's structure is damaged.
    pub fn gguf_structure(damage: GgufDamage) -> Self {
        Self::gguf(Damage::Gguf(damage))
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

    fn damaged(file: ModelFile, damage: Damage) -> Self {
        EngineError::DamagedFile { file, damage }
    }

    /// The same error about the target side's tokenizer file instead of tokenizer.json.
    pub fn about_target_tokenizer(self) -> Self {
        match self {
            EngineError::DamagedFile {
                file: ModelFile::Tokenizer,
                damage,
            } => Self::damaged(ModelFile::TargetTokenizer, damage),
            other => other,
        }
    }
}

/// What is wrong with a damaged model file, by the part of the model it concerns. Details
/// quoted from a library (`detail`) stay as the library wrote them; everything else is worded
/// in the page's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Damage {
    /// The model's numbers: config.json, or a .gguf file's metadata.
    Config(ConfigDamage),
    /// The tokenizer: tokenizer.json, GPT-2's encoder.json and vocab.bpe, or a .gguf file's.
    Tokenizer(TokenizerDamage),
    /// The weights: model.safetensors, or the tensors of a .gguf file.
    Weights(WeightsDamage),
    /// The .gguf file's own structure.
    Gguf(GgufDamage),
}

/// What is wrong with a .gguf file's structure (its metadata and tensors are checked as the
/// other files are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "damage", rename_all = "snake_case")]
pub enum GgufDamage {
    /// candle's GGUF reader refuses the file.
    Unreadable { detail: String },
    /// A tensor whose shape cannot be right.
    ImpossibleShape { tensor: String, shape: Vec<usize> },
    /// A tensor that cannot be read or dequantised.
    TensorUnreadable { tensor: String, detail: String },
}

/// What is wrong with the model's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "damage", rename_all = "snake_case")]
pub enum ConfigDamage {
    /// config.json does not parse as JSON.
    NotJson { detail: String },
    /// A Llama config.json offered instead of a .gguf file.
    LlamaNeedsGguf,
    /// A size of the model that is zero.
    ZeroSize { quantity: Quantity },
    /// The width does not split into the heads.
    WidthNotDivisible { width: usize, heads: usize },
    /// The query heads do not share the key/value heads evenly.
    HeadsNotShared { heads: usize, kv_heads: usize },
    /// None of the names a field goes by is present.
    MissingField { names: Vec<String> },
    /// A field that should be a whole number; `value` is what it holds, when it can be shown.
    NotWholeNumber { name: String, value: Option<String> },
    /// A field that should be a number.
    NotNumber { name: String, value: Option<String> },
    /// A field that should be text.
    NotText { name: String, value: Option<String> },
    /// A field that should be true or false.
    NotTrueOrFalse { name: String, value: Option<String> },
    /// A field that should be a list.
    NotList { name: String },
    /// A field that should be a list of strings.
    NotListOfText { name: String },
    /// A field that should be a list of integers.
    NotListOfIntegers { name: String },
    /// A .gguf file's metadata lacks an entry.
    NoMetadataEntry { key: String },
    /// A .gguf file of a family other than Llama.
    NotLlama { architecture: String },
    /// An activation function the engine does not implement.
    UnsupportedActivation { name: String },
}

/// What is wrong with the tokenizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "damage", rename_all = "snake_case")]
pub enum TokenizerDamage {
    /// tokenizer.json does not parse as JSON.
    NotJson { detail: String },
    /// The tokenizers library refuses tokenizer.json.
    Unreadable { detail: String },
    /// encoder.json is not a token → id map.
    EncoderNotMap { detail: String },
    /// vocab.bpe is not UTF-8.
    MergesNotText,
    /// A line of vocab.bpe that is not two tokens.
    BadMergeLine { line: String },
    /// The tokenizers library cannot build GPT-2's BPE from the two files.
    BpeNotBuilt { detail: String },
    /// The tokenizer's truncation cannot be switched off.
    TruncationStuck { detail: String },
    /// The tokenizer fails on this text.
    CannotTokenize { detail: String },
    /// The tokenizer cannot decode these ids.
    CannotDecode { detail: String },
    /// The post-processor template names a special token the file does not define.
    UndefinedSpecialToken { token: String },
    /// The tokenizer has more tokens than the model has embedding rows.
    LargerThanEmbeddings { tokens: usize, rows: usize },
    /// A .gguf tokenizer other than byte-level BPE.
    UnsupportedGgufKind { model: String },
}

/// What is wrong with the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "damage", rename_all = "snake_case")]
pub enum WeightsDamage {
    /// Shorter than the 8-byte header length.
    TooShort { bytes: u64 },
    /// A header length no real checkpoint has.
    ImplausibleHeader { bytes: u64 },
    /// The header runs past the end of the file.
    HeaderCutOff { bytes: u64, available: u64 },
    /// The header cannot be read.
    HeaderUnreadable,
    /// The header is not a JSON object.
    HeaderNotObject,
    /// A tensor of a data type the format does not know.
    UnknownDataType { tensor: String, dtype: String },
    /// A tensor whose data ends past the file's end.
    TensorPastEnd { tensor: String, end: u64, data: u64 },
    /// The header describes more tensor data than the file holds.
    DataCutOff { described: u64, data: u64 },
    /// A tensor without valid `data_offsets`.
    NoDataOffsets { tensor: String },
    /// The safetensors library refuses the header.
    NotSafetensors { detail: String },
    /// A tensor's bytes cannot be read: the file is cut off.
    TensorCutOff { tensor: String },
    /// A GGUF file offered as model.safetensors.
    IsGguf,
    /// A PyTorch pickle offered as model.safetensors.
    IsPickle,
    /// A tensor the model needs is not in the file.
    MissingTensor { tensor: String },
    /// A tensor has another shape than the model's numbers imply.
    WrongShape {
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// Another failure while building the model from its tensors.
    Unusable { detail: String },
    /// A half-precision copy cannot be written (a tool).
    CannotWriteCopy { detail: String },
}

/// A size of the model, as config.json states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    Layers,
    Heads,
    KeyValueHeads,
    Width,
    MlpWidth,
    Vocabulary,
    Positions,
}

/// Something odd about a model that still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelWarning {
    /// Tensors holding NaN or infinite values: each tensor's name and how many it holds.
    NonFinite { tensors: Vec<(String, usize)> },
}

impl fmt::Display for ModelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words(Lang::En))
    }
}

/// The result type of the engine and the worker.
pub type Result<T> = std::result::Result<T, EngineError>;

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words(Lang::En))
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
