//! Next-token sampling as generation does it: temperature, then top-k, then top-p (nucleus),
//! drawn with a seed, so a shared link reproduces it. A seed draws the token candle-transformers'
//! `LogitsProcessor` (top-k then top-p) draws for it, which the engine used before: links
//! shared since then keep their tokens (tests/candle_crosscheck.rs compares the two).
use candle_core::{DType, Tensor};
use rand::distr::{weighted::WeightedIndex, Distribution};
use rand::{rngs::StdRng, SeedableRng};

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

/// The tokens that can be drawn from `logits` [vocab]: their ids and their weights (the
/// probabilities at the temperature, 0 for a token top-p left out), in the order the draw
/// reads them.
struct Candidates {
    ids: Vec<usize>,
    weights: Vec<f32>,
    /// How many of them top-p kept.
    kept: usize,
}

impl Candidates {
    /// The k most probable tokens, then, of those, the most probable while the mass before
    /// each is short of p.
    fn new(logits: &Tensor, settings: &SamplingSettings) -> Result<Self> {
        check(settings)?;
        let logits = (logits.to_dtype(DType::F32)? / settings.temperature as f64)?;
        let probabilities = candle_nn::ops::softmax_last_dim(&logits)?.to_vec1::<f32>()?;
        let whole_vocabulary = settings.top_k >= probabilities.len();
        let (ids, mut weights) = most_probable(probabilities, settings.top_k);
        // Top-p leaves the top k whole when they hold less than p, except over the whole
        // vocabulary: the order of `LogitsProcessor`'s steps, kept for its draws.
        let kept = match whole_vocabulary || settings.top_p < weights.iter().sum::<f32>() {
            true => keep_nucleus(&mut weights, settings.top_p),
            false => weights.len(),
        };
        Ok(Candidates { ids, weights, kept })
    }

    /// The id drawn by a generator seeded with `seed`.
    fn draw(&self, seed: u64) -> Result<u32> {
        let draw = WeightedIndex::new(&self.weights)
            .map_err(|e| EngineError::compute(format!("cannot draw a token: {e}")))?
            .sample(&mut StdRng::seed_from_u64(seed));
        Ok(self.ids[draw] as u32)
    }
}

/// The ids of the `k` largest probabilities and those probabilities, in the order
/// `select_nth_unstable_by` leaves them (a seed's draw depends on the order); every id in
/// order when k covers them all.
fn most_probable(probabilities: Vec<f32>, k: usize) -> (Vec<usize>, Vec<f32>) {
    let mut ids: Vec<usize> = (0..probabilities.len()).collect();
    if k >= probabilities.len() {
        return (ids, probabilities);
    }
    ids.select_nth_unstable_by(k, |&i, &j| probabilities[j].total_cmp(&probabilities[i]));
    ids.truncate(k);
    let weights = ids.iter().map(|&i| probabilities[i]).collect();
    (ids, weights)
}

/// Top-p: going from the most probable weight down, sets to 0 every weight reached once the
/// mass before it is p or more. Returns how many weights were kept.
fn keep_nucleus(weights: &mut [f32], p: f32) -> usize {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&i, &j| weights[j].total_cmp(&weights[i]));
    let mut mass_before = 0.0f32;
    let mut kept = 0;
    for i in order {
        if mass_before >= p {
            weights[i] = 0.0;
        } else {
            mass_before += weights[i];
            kept += 1;
        }
    }
    kept
}

/// How many of the most probable tokens (in order) can still be drawn after top-k and top-p.
pub fn surviving_count(logits: &Tensor, settings: SamplingSettings) -> Result<usize> {
    Ok(Candidates::new(logits, &settings)?.kept)
}

/// Draws the next token id from `logits` [vocab] after top-k and top-p, seeded with `seed`.
pub fn sample_token(logits: &Tensor, settings: SamplingSettings, seed: u64) -> Result<u32> {
    Candidates::new(logits, &settings)?.draw(seed)
}
