//! What the panels ask of a loaded model beyond its trace, one file each: the predictions (next
//! token or [MASK] fills), the logit lens, and gradient×input saliency.
mod lens;
mod predict;
mod saliency;

pub use lens::{LensLayer, LogitLens};
pub use predict::{Candidate, PositionPredictions, PredictionLogits, Predictions};
pub use saliency::Saliency;
