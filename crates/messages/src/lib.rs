//! The types shared by the worker and the page: the requests and answers that cross
//! `postMessage`, and the plain arrays they carry. Serde only, no candle: the page's wasm
//! depends on this crate and not on the engine.
mod analysis;
mod anatomy;
mod error;
mod lab;
mod language;
mod model;
mod positions;
mod protocol;
mod tokens;
mod toy;
mod trace;
mod wording;

pub use analysis::{
    Candidate, Decoding, Generation, LensLayer, LogitLens, NeuronFactors, NeuronLoading,
    PairSaliency, PositionPredictions, Predictions, RankedToken, Rankings, ResidualNorms, Saliency,
    SamplingSettings, WatchedToken, FACTOR_RANGE, MAX_BEAM_WIDTH, MAX_WATCHED_TOKENS,
};
pub use anatomy::{Anatomy, ModelPart, Weight};
#[cfg(feature = "candle")]
pub use error::describe_candle_error;
pub use error::{
    ConfigDamage, Damage, EngineError, GgufDamage, ModelFile, ModelWarning, Quantity, Result,
    TokenizerDamage, WeightsDamage, Work, TARGET_TOKENIZER_FILE,
};
pub use lab::{
    max_induction_period, toggle_head, Ablation, HeadId, HeadImportance, InductionScores,
    Interventions, INDUCTION_PERIOD,
};
pub use language::Lang;
pub use model::{ActivationKind, Architecture};
pub use positions::{PositionalEncodings, RotaryView};
pub use protocol::{
    DecoderCard, Envelope, ModelCard, Request, Response, WorkerMessage, WEIGHTS_FIELD,
};
pub use tokens::TokenizedText;
pub use toy::{ToyAttention, ToyMatrices, ToyRequest, TOY_RANDOM_WIDTHS, TOY_TOKENS, TOY_WIDTHS};
pub use trace::{
    Array, AttentionInternals, AttentionKind, EncoderDecoderTrace, FeedForwardInternals,
    LayerTrace, PageTrace, RelativePositions, StackTrace, Trace,
};
