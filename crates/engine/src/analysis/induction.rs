//! The induction-head detector: a decoder reads random tokens repeated once, [start] + R + R,
//! and each head scores the weight it gives, from every token of the second copy, to the token
//! that followed that token's first occurrence (… A B … A → B). A head that does this copies
//! B forward: the mechanism behind in-context repetition (Olsson et al. 2022). The standard
//! score, as TransformerLens computes it; random tokens so that nothing but the repetition can
//! tell a head where to look.
pub use ae_messages::INDUCTION_PERIOD;
use ae_messages::{max_induction_period, Array, EngineError, InductionScores};

use crate::error::Result;
use crate::model::Model;
use crate::random::SplitMix64;

/// `start` (if any) then `period` tokens drawn from `ordinary` with `seed`, twice.
pub fn repeated_random_tokens(
    ordinary: &[u32],
    period: usize,
    seed: u64,
    start: Option<u32>,
) -> Vec<u32> {
    let mut random = SplitMix64(seed);
    let copy: Vec<u32> = (0..period)
        .map(|_| ordinary[(random.next() % ordinary.len().max(1) as u64) as usize])
        .collect();
    start
        .into_iter()
        .chain(copy.iter().copied())
        .chain(copy.iter().copied())
        .collect()
}

/// [layer][head]: the mean over the second copy of attention[i][i − period + 1], for a sequence
/// whose first copy starts at `offset`.
pub fn induction_stripe(attentions: &Array, period: usize, offset: usize) -> Vec<Vec<f32>> {
    let Some([layers, heads, tokens, _]) = attentions.dims() else {
        return Vec::new();
    };
    let second_copy = offset + period..(offset + 2 * period).min(tokens);
    let count = second_copy.len().max(1) as f32;
    (0..layers)
        .map(|layer| {
            (0..heads)
                .map(|head| {
                    let weight = |i: usize| attentions.value(&[layer, head, i, i + 1 - period]);
                    second_copy.clone().filter_map(weight).sum::<f32>() / count
                })
                .collect()
        })
        .collect()
}

impl Model {
    /// Every head's induction score on [start] + R + R, R of `period` random readable tokens
    /// drawn with `seed`; with the lab's interventions, like every pass.
    pub fn induction_scores(&self, period: usize, seed: u64) -> Result<InductionScores> {
        if !self.config.architecture.is_causal() {
            return Err(EngineError::InductionNeedsDecoder {
                architecture: self.config.architecture.name().to_string(),
            });
        }
        let max = max_induction_period(self.config.max_positions);
        if !(2..=max).contains(&period) {
            return Err(EngineError::InductionPeriod { period, max });
        }
        let vocab = self.config.vocab_size.min(self.tokenizer.vocab_size()) as u32;
        // Tokens a student can read: no special tokens, no stray bytes of a character.
        let readable = |id: &u32| {
            let shown = self.tokenizer.display_token(*id);
            !self.tokenizer.is_special(*id)
                && !shown.trim().is_empty()
                && !shown.contains('\u{FFFD}')
        };
        let ordinary: Vec<u32> = (0..vocab).filter(readable).collect();
        if ordinary.is_empty() {
            return Err(EngineError::compute(
                "the vocabulary has no readable tokens to repeat",
            ));
        }
        let start = self.tokenizer.start_token_id();
        let ids = repeated_random_tokens(&ordinary, period, seed, start);
        self.induction_scores_of(&ids, period, usize::from(start.is_some()))
    }

    /// The scores on a given repeated sequence whose first copy starts at `offset`.
    pub fn induction_scores_of(
        &self,
        ids: &[u32],
        period: usize,
        offset: usize,
    ) -> Result<InductionScores> {
        let trace = self.page_trace(ids)?.trace;
        Ok(InductionScores {
            scores: induction_stripe(&trace.attentions, period, offset),
            ids: ids.to_vec(),
            tokens: trace.tokens,
            period,
            offset,
            attentions: trace.attentions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_repeats_its_random_half_after_the_start_token() {
        let ordinary: Vec<u32> = (1..50).collect();
        let ids = repeated_random_tokens(&ordinary, 6, 7, Some(0));
        assert_eq!(ids.len(), 13);
        assert_eq!(ids[0], 0);
        assert_eq!(ids[1..7], ids[7..13]);
        assert!(ids[1..].iter().all(|id| ordinary.contains(id)));
        assert_ne!(ids, repeated_random_tokens(&ordinary, 6, 8, Some(0)));
    }

    #[test]
    fn the_stripe_reads_the_token_after_the_first_occurrence() {
        // One head, [start] + (a b c) + (a b c): a perfect induction head puts all of row 4
        // (the second a) on position 2 (the first b), row 5 on 3, row 6 on 4.
        let tokens = 7;
        let mut data = vec![0.0; tokens * tokens];
        for (query, key) in [(4, 2), (5, 3), (6, 4)] {
            data[query * tokens + key] = 1.0;
        }
        for query in 0..4 {
            data[query * tokens] = 1.0;
        }
        let attentions = Array {
            shape: vec![1, 1, tokens, tokens],
            data,
        };
        assert_eq!(induction_stripe(&attentions, 3, 1), [[1.0]]);
        // The wrong period reads the wrong stripe.
        assert_eq!(induction_stripe(&attentions, 2, 1), [[0.0]]);
    }
}
