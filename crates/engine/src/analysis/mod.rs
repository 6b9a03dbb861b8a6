//! What the panels ask of a loaded model beyond its trace, one file each: the predictions (next
//! token or [MASK] fills), the logit lens, Ecco's rankings with the text's surprisal and its
//! factorisation of neuron activations, gradient×input saliency, and the induction-head
//! detector.
mod induction;
mod lens;
pub mod nmf;
mod predict;
mod rankings;
mod saliency;

pub use induction::{induction_stripe, repeated_random_tokens, INDUCTION_PERIOD};
pub use predict::PredictionLogits;
pub use rankings::MAX_RANKED_TOKENS;
