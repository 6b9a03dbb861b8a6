//! Next-token sampling as generation does it: temperature, then top-k, then top-p (nucleus),
//! drawn by candle-transformers' `LogitsProcessor` with a seed, so a shared link reproduces it.
use candle_core::{Tensor, D};
use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::{EngineError, Result};
use ae_messages::SamplingSettings;

/// An error unless the settings can draw a token.
fn check(settings: &SamplingSettings) -> Result<()> {
    if !(settings.temperature.is_finite() && settings.temperature > 0.0) {
        return Err(EngineError::BadTemperature {
            temperature: settings.temperature,
        });
    }
    if settings.top_k == 0 || !(settings.top_p > 0.0 && settings.top_p <= 1.0) {
        return Err(EngineError::BadSampling {
            top_k: settings.top_k,
            top_p: settings.top_p,
        });
    }
    Ok(())
}

/// How many of the most probable tokens (in order) can still be drawn after top-k and top-p —
/// the same rule `LogitsProcessor` applies: keep a token while the mass before it is short of p.
pub fn surviving_count(logits: &Tensor, settings: SamplingSettings) -> Result<usize> {
    check(&settings)?;
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
    check(&settings)?;
    let sampling = Sampling::TopKThenTopP {
        k: settings.top_k,
        p: settings.top_p as f64,
        temperature: settings.temperature as f64,
    };
    Ok(LogitsProcessor::from_sampling(seed, sampling).sample(logits)?)
}
