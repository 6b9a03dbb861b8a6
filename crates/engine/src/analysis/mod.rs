//! What the panels ask of a loaded model beyond its trace, one file each: the predictions (next
//! token or [MASK] fills), the logit lens, and gradient×input saliency.
mod lens;
mod predict;
mod saliency;

pub use predict::PredictionLogits;
