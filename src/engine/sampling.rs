//! Next-token sampling as generation does it: temperature, then top-k, then top-p (nucleus),
//! drawn by candle-transformers' `LogitsProcessor` with a seed, so a shared link reproduces it.
use candle_core::{Tensor, D};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use serde::{Deserialize, Serialize};

use super::{EngineError, Result};

/// How the next token is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingSettings {
    /// Logits are divided by this before softmax.
    pub temperature: f32,
    /// Only the k most probable tokens may be drawn.
    pub top_k: usize,
    /// Of those, only the most probable that together first reach this probability.
    pub top_p: f32,
}

impl SamplingSettings {
    fn check(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(EngineError::Input(format!(
                "temperature must be a positive number, not {}",
                self.temperature
            )));
        }
        if self.top_k == 0 || !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(EngineError::Input(format!(
                "top-k must be at least 1 and top-p in (0, 1], not {} and {}",
                self.top_k, self.top_p
            )));
        }
        Ok(())
    }
}

/// How many of the most probable tokens (in order) can still be drawn after top-k and top-p —
/// the same rule `LogitsProcessor` applies: keep a token while the mass before it is short of p.
pub fn surviving_count(logits: &Tensor, settings: SamplingSettings) -> Result<usize> {
    settings.check()?;
    let probabilities =
        candle_nn::ops::softmax(&(logits / settings.temperature as f64)?, D::Minus1)?;
    let (sorted, _) = probabilities.sort_last_dim(false)?;
    let k = settings.top_k.min(sorted.dim(0)?);
    let top = sorted.narrow(0, 0, k)?;
    let mass_before = (top.cumsum(0)? - &top)?.to_vec1::<f32>()?;
    let top_sum = top.sum_all()?.to_scalar::<f32>()?;
    if settings.top_p >= top_sum {
        return Ok(k);
    }
    Ok(mass_before.iter().filter(|&&m| m < settings.top_p).count())
}

/// Draws the next token id from `logits` [vocab] with a seeded `LogitsProcessor`.
pub fn sample_token(logits: &Tensor, settings: SamplingSettings, seed: u64) -> Result<u32> {
    settings.check()?;
    let sampling = Sampling::TopKThenTopP {
        k: settings.top_k,
        p: settings.top_p as f64,
        temperature: settings.temperature as f64,
    };
    Ok(LogitsProcessor::from_sampling(seed, sampling).sample(logits)?)
}
