//! Ecco's rankings and the surprisal of a text: the logit lens at every position at once.
use candle_core::{DType, Tensor, D};

use crate::error::{EngineError, Result};
use crate::recorder::Recorder;
use crate::Model;
use ae_messages::{RankedToken, Rankings, WatchedToken, MAX_WATCHED_TOKENS};

/// The longest text ranked: every residual stream through the head costs as much as a forward
/// pass's LM head at every position (GPT-2 small, 64 tokens: ~64 GFLOP).
pub const MAX_RANKED_TOKENS: usize = 64;

impl Model {
    /// The rank of each position's final prediction, of the next token (causal models) and of
    /// each watched word's first token at every residual stream and position, and the
    /// surprisal of each next token.
    pub fn rankings(&self, ids: &[u32], watch: &[String]) -> Result<Rankings> {
        if ids.len() > MAX_RANKED_TOKENS {
            return Err(EngineError::TooLongForRankings {
                tokens: ids.len(),
                max: MAX_RANKED_TOKENS,
            });
        }
        let watched_ids = self.watched_ids(watch)?;
        let (_, pass) = self.run(ids, Recorder::streams_only())?;
        let head = self.head()?;
        let lens =
            |stream: &Tensor| -> Result<Tensor> { Ok(head.logits(&self.final_norm(stream)?)?) };
        let streams = &pass.residual_streams;
        let final_logits = lens(
            streams
                .last()
                .ok_or_else(|| EngineError::compute("no streams"))?,
        )?;
        let predicted = final_logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let causal = self.config.architecture.is_causal();
        let next: Vec<u32> = ids.iter().skip(1).copied().collect();
        let mut prediction_ranks = Vec::new();
        let mut next_token_ranks = Vec::new();
        let mut watched_ranks = vec![Vec::new(); watched_ids.len()];
        for stream in streams {
            // One stream's logits [tokens, vocab] at a time: all of them at once would be
            // (layers + 1) × tokens × vocab floats (GPT-2 small, 512 tokens: 1.3 GB).
            let logits = lens(stream)?;
            prediction_ranks.push(ranks(&logits, &predicted)?);
            if causal {
                next_token_ranks.push(ranks(&logits.narrow(0, 0, next.len())?, &next)?);
            }
            for (ranks_of_word, &id) in watched_ranks.iter_mut().zip(&watched_ids) {
                ranks_of_word.push(ranks(&logits, &vec![id; ids.len()])?);
            }
        }
        let ranked = |id: u32| RankedToken {
            token_id: id,
            token: self.tokenizer.display_token(id),
        };
        Ok(Rankings {
            predicted: predicted.iter().map(|&id| ranked(id)).collect(),
            prediction_ranks,
            next_token_ranks: causal.then_some(next_token_ranks),
            watched: watch
                .iter()
                .zip(watched_ids)
                .zip(watched_ranks)
                .map(|((word, id), ranks)| WatchedToken {
                    word: word.clone(),
                    token: ranked(id),
                    ranks,
                })
                .collect(),
            surprisal: causal
                .then(|| surprisal(&final_logits, &next))
                .transpose()?,
        })
    }

    /// The first token of each watched word as it appears inside a sentence, after a space
    /// (GPT-2's " is", not "is" at the start of a text).
    fn watched_ids(&self, watch: &[String]) -> Result<Vec<u32>> {
        if watch.len() > MAX_WATCHED_TOKENS {
            return Err(EngineError::TooManyWatchedTokens {
                given: watch.len(),
                max: MAX_WATCHED_TOKENS,
            });
        }
        watch
            .iter()
            .map(|word| {
                let tokens = self.tokenizer.encode_plain(&format!(" {}", word.trim()))?;
                tokens.ids.first().copied().ok_or(EngineError::TextEmpty)
            })
            .collect()
    }
}

/// 1 + how many tokens score above `targets[t]` in row t of `logits` [tokens, vocab].
fn ranks(logits: &Tensor, targets: &[u32]) -> Result<Vec<u32>> {
    let index = Tensor::new(targets, logits.device())?.unsqueeze(1)?;
    let target_logits = logits.gather(&index, 1)?;
    let above = logits
        .broadcast_gt(&target_logits)?
        .to_dtype(DType::U32)?
        .sum(1)?;
    Ok(above.to_vec1::<u32>()?.into_iter().map(|n| n + 1).collect())
}

/// −ln softmax(logits[t])[next[t]] for each t < next.len().
fn surprisal(logits: &Tensor, next: &[u32]) -> Result<Vec<f32>> {
    if next.is_empty() {
        return Ok(Vec::new());
    }
    let rows = logits.narrow(0, 0, next.len())?;
    let log_p = candle_nn::ops::log_softmax(&rows, D::Minus1)?;
    let index = Tensor::new(next, logits.device())?.unsqueeze(1)?;
    let chosen = log_p.gather(&index, 1)?.squeeze(1)?;
    Ok(chosen.neg()?.to_vec1::<f32>()?)
}
