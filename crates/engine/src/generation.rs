//! An encoder–decoder writing a target for a source: greedy, beam search (as transformers'
//! `generate` does it) or sampling. The encoder runs once; each new token is one decoder pass
//! over the target so far.
use candle_core::{Tensor, D};

use super::encoder_decoder::{visible_tokens, EncoderDecoder};
use super::error::{EngineError, Result};
use super::model::Model;
use super::sampling::sample_token;
use super::Device;
use ae_messages::{Decoding, Generation, MAX_BEAM_WIDTH};

/// A target being written: its ids (from the decoder start token) and the log probability of
/// each written token.
#[derive(Debug, Clone)]
struct Hypothesis {
    ids: Vec<u32>,
    log_probabilities: Vec<f32>,
}

impl Hypothesis {
    fn score(&self) -> f32 {
        self.log_probabilities.iter().sum()
    }

    fn extended(&self, token: u32, log_probability: f32) -> Self {
        let mut next = self.clone();
        next.ids.push(token);
        next.log_probabilities.push(log_probability);
        next
    }
}

/// The source's encoding and what each step needs to score the next token.
struct Writer<'a> {
    network: &'a EncoderDecoder,
    memory: Tensor,
    visible: Option<Tensor>,
}

impl Writer<'_> {
    /// The last target position's logits [vocab].
    fn next_logits(&self, ids: &[u32]) -> Result<Tensor> {
        let target = self
            .network
            .embedding
            .forward(&Tensor::new(ids, &Device::Cpu)?)?;
        let pass = self
            .network
            .decode(&target, &self.memory, self.visible.as_ref(), false)?;
        let last = pass.pass.final_hidden.narrow(0, ids.len() - 1, 1)?;
        Ok(self.network.logits(&last)?.squeeze(0)?)
    }

    /// Natural-log probabilities of the next token [vocab].
    fn next_log_probabilities(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let logits = self.next_logits(ids)?;
        Ok(candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec1::<f32>()?)
    }
}

impl Model {
    /// Writes up to `max_new_tokens` target tokens for `source_ids` (fewer when the model writes
    /// its end token or the decoder's positions run out).
    pub fn generate(
        &self,
        source_ids: &[u32],
        max_new_tokens: usize,
        decoding: Decoding,
    ) -> Result<Generation> {
        let network = self.encoder_decoder()?;
        let seq2seq = self.seq2seq_config()?;
        let start = Hypothesis {
            ids: vec![seq2seq.decoder_start_token_id],
            log_probabilities: Vec::new(),
        };
        self.check_pair(source_ids, &start.ids)?;
        let visible = visible_tokens(source_ids, seq2seq.pad_token_id)?;
        let source = Tensor::new(source_ids, &Device::Cpu)?;
        let writer = Writer {
            network,
            memory: network.encode(&source, visible.as_ref())?,
            visible,
        };
        let limit = max_new_tokens.min(self.config.max_positions - 1);
        let eos = seq2seq.eos_token_id;
        let written = match decoding {
            Decoding::Greedy => token_by_token(&writer, start, limit, eos, |_, lp| Ok(argmax(lp)))?,
            Decoding::Sample { settings, seed } => {
                token_by_token(&writer, start, limit, eos, |ids, _| {
                    let step = (ids.len() - 1) as u64;
                    sample_token(&writer.next_logits(ids)?, settings, seed.wrapping_add(step))
                })?
            }
            Decoding::Beam { width } => {
                if !(1..=MAX_BEAM_WIDTH).contains(&width) {
                    return Err(EngineError::BadBeamWidth {
                        width,
                        max: MAX_BEAM_WIDTH,
                    });
                }
                beam_search(&writer, start, limit, eos, width)?
            }
        };
        let finished = written.ids.len() > 1 && written.ids.last() == Some(&eos);
        Ok(Generation {
            tokens: written
                .ids
                .iter()
                .map(|&id| self.tokenizer.display_token(id))
                .collect(),
            text: self.tokenizer.decode_plain(&written.ids[1..])?,
            ids: written.ids,
            log_probabilities: written.log_probabilities,
            finished,
        })
    }
}

/// One token at a time, chosen by `choose(ids so far, log probabilities)`, until the end token
/// or `limit` tokens.
fn token_by_token(
    writer: &Writer,
    mut written: Hypothesis,
    limit: usize,
    eos: u32,
    choose: impl Fn(&[u32], &[f32]) -> Result<u32>,
) -> Result<Hypothesis> {
    for _ in 0..limit {
        let log_probabilities = writer.next_log_probabilities(&written.ids)?;
        let token = choose(&written.ids, &log_probabilities)?;
        let log_probability = log_probabilities
            .get(token as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        written = written.extended(token, log_probability);
        if token == eos {
            break;
        }
    }
    Ok(written)
}

/// Beam search as transformers 5 runs it (`_beam_search`, length penalty 1, early_stopping
/// False): each step ranks the 2·width best continuations of the running beams; those among
/// the first `width` that end (the end token, or the last allowed token) join the finished
/// ones, scored by their log probability ÷ their written length; the best `width` that do not
/// end keep running. The search stops when the best running beam, at its current length, can
/// no longer beat the worst of `width` finished ones.
fn beam_search(
    writer: &Writer,
    start: Hypothesis,
    limit: usize,
    eos: u32,
    width: usize,
) -> Result<Hypothesis> {
    let mut running = vec![start];
    let mut finished: Vec<(f32, Hypothesis)> = Vec::new();
    for step in 1..=limit {
        let mut candidates: Vec<(f32, usize, u32, f32)> = Vec::new();
        for (beam, hypothesis) in running.iter().enumerate() {
            let score = hypothesis.score();
            let log_probabilities = writer.next_log_probabilities(&hypothesis.ids)?;
            candidates.extend(
                log_probabilities
                    .iter()
                    .enumerate()
                    .map(|(token, &lp)| (score + lp, beam, token as u32, lp)),
            );
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.truncate(2 * width);
        let ends = |token: u32| token == eos || step == limit;
        for &(total, beam, token, lp) in candidates.iter().take(width) {
            if ends(token) {
                let hypothesis = running[beam].extended(token, lp);
                finished.push((total / step as f32, hypothesis));
            }
        }
        finished.sort_by(|a, b| b.0.total_cmp(&a.0));
        finished.truncate(width);
        running = candidates
            .iter()
            .filter(|&&(_, _, token, _)| !ends(token))
            .take(width)
            .map(|&(_, beam, token, lp)| running[beam].extended(token, lp))
            .collect();
        let best_running = running.first().map(|h| h.score() / step as f32);
        let worst_finished = (finished.len() == width).then(|| finished[width - 1].0);
        match (best_running, worst_finished) {
            (None, _) => break,
            (Some(best), Some(worst)) if best <= worst => break,
            _ => {}
        }
    }
    finished
        .into_iter()
        .next()
        .map(|(_, hypothesis)| hypothesis)
        .or_else(|| running.into_iter().next())
        .ok_or_else(|| EngineError::compute("beam search kept no target"))
}

/// The index of the largest value (the first of equal ones).
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &value) in values.iter().enumerate() {
        if value > values[best] {
            best = i;
        }
    }
    best as u32
}
