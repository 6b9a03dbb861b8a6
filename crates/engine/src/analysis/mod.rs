//! What the panels ask of a loaded model beyond its trace, one file each: the predictions (next
//! token or [MASK] fills), the logit lens, Ecco's rankings with the text's surprisal and its
//! factorisation of neuron activations, and gradient×input saliency.
mod lens;
pub mod nmf;
mod predict;
mod rankings;
mod saliency;

pub use predict::PredictionLogits;
pub use rankings::MAX_RANKED_TOKENS;
