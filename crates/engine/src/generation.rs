//! An encoder–decoder writing a target for a source: greedy, beam search (as transformers'
//! `generate` does it) or sampling. The encoder runs once, and so do the cross-attention's
//! projections of its output; each new token is one decoder step over that token alone, reading
//! the keys and values of the earlier ones from its target's cache.
use std::sync::Arc;

use candle_core::{Tensor, D};

use super::encoder_decoder::{visible_tokens, EncoderDecoder, PastKeyValues, SourceView};
use super::error::{EngineError, Result};
use super::model::Model;
use super::sampling::sample_token;
use super::Device;
use ae_messages::{Decoding, Generation, Interventions, MAX_BEAM_WIDTH};

/// A target being written: its ids (from the decoder start token), the log probability of
/// each written token, and the decoder's keys and values of all ids but the last.
#[derive(Debug, Clone)]
struct Hypothesis {
    ids: Vec<u32>,
    log_probabilities: Vec<f32>,
    past: Arc<PastKeyValues>,
}

impl Hypothesis {
    fn score(&self) -> f32 {
        self.log_probabilities.iter().sum()
    }

    /// The hypothesis with `token` written; `past` covers every id before it.
    fn extended(&self, token: u32, log_probability: f32, past: Arc<PastKeyValues>) -> Self {
        let mut next = self.clone();
        next.ids.push(token);
        next.log_probabilities.push(log_probability);
        next.past = past;
        next
    }
}

/// The source's encoding, projected for every decoder block's cross-attention, and what each
/// step needs to score the next token.
struct Writer<'a> {
    network: &'a EncoderDecoder,
    source: PastKeyValues,
    visible: Option<Tensor>,
    /// The lab's heads switched off while writing.
    lab: &'a Interventions,
}

impl Writer<'_> {
    /// For each hypothesis, the next token's natural-log probabilities [vocab] and the keys and
    /// values of all its ids (what its children read). The LM head runs once over every
    /// hypothesis's row: its vocabulary matrix is then read from memory once per step, not once
    /// per beam.
    fn next(&self, hypotheses: &[Hypothesis]) -> Result<Vec<(Vec<f32>, Arc<PastKeyValues>)>> {
        let (rows, pasts): (Vec<Tensor>, Vec<_>) = hypotheses
            .iter()
            .map(|hypothesis| self.last_hidden(hypothesis))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let logits = self.network.logits(&Tensor::cat(&rows, 0)?)?;
        let log_probabilities =
            candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
        Ok(log_probabilities.into_iter().zip(pasts).collect())
    }

    /// The last id's logits [vocab].
    fn next_logits(&self, hypothesis: &Hypothesis) -> Result<(Tensor, Arc<PastKeyValues>)> {
        let (last, past) = self.last_hidden(hypothesis)?;
        Ok((self.network.logits(&last)?.squeeze(0)?, past))
    }

    /// The decoder's output row [1, d_model] at the last id: one step over the ids its cache
    /// lacks.
    fn last_hidden(&self, hypothesis: &Hypothesis) -> Result<(Tensor, Arc<PastKeyValues>)> {
        let done = hypothesis.past.first().map_or(Ok(0), |(k, _)| k.dim(1))?;
        let new_ids = Tensor::new(&hypothesis.ids[done..], &Device::Cpu)?;
        let embeddings = self.network.embedding.forward(&new_ids)?;
        let source = SourceView::Projected(&self.source, self.visible.as_ref());
        let (hidden, past) =
            self.network
                .decoder
                .step(&embeddings, &hypothesis.past, source, self.lab)?;
        let last = hidden.narrow(0, hidden.dim(0)? - 1, 1)?;
        Ok((last, Arc::new(past)))
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
            past: Arc::new(Vec::new()),
        };
        self.check_pair(source_ids, &start.ids)?;
        let visible = visible_tokens(source_ids, seq2seq.pad_token_id)?;
        let source = Tensor::new(source_ids, &Device::Cpu)?;
        let memory = network.encode(&source, visible.as_ref(), &self.interventions)?;
        let writer = Writer {
            network,
            source: network.decoder.project_source(&memory)?,
            visible,
            lab: &self.interventions,
        };
        let limit = max_new_tokens.min(self.config.max_positions - 1);
        let eos = seq2seq.eos_token_id;
        let written = match decoding {
            Decoding::Greedy => token_by_token(&writer, start, limit, eos, |_, logits| {
                Ok(argmax(&logits.to_vec1::<f32>()?))
            })?,
            Decoding::Sample { settings, seed } => {
                token_by_token(&writer, start, limit, eos, |step, logits| {
                    sample_token(logits, settings, seed.wrapping_add(step as u64))
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
                .map(|&id| self.target_side_tokenizer().display_token(id))
                .collect(),
            text: self
                .target_side_tokenizer()
                .decode_plain(&written.ids[1..])?,
            ids: written.ids,
            log_probabilities: written.log_probabilities,
            finished,
        })
    }
}

/// One token at a time, chosen by `choose(step, logits)`, until the end token or `limit`
/// tokens.
fn token_by_token(
    writer: &Writer,
    mut written: Hypothesis,
    limit: usize,
    eos: u32,
    choose: impl Fn(usize, &Tensor) -> Result<u32>,
) -> Result<Hypothesis> {
    for step in 0..limit {
        let (logits, past) = writer.next_logits(&written)?;
        let token = choose(step, &logits)?;
        let log_probability = candle_nn::ops::log_softmax(&logits, D::Minus1)?
            .get(token as usize)?
            .to_scalar::<f32>()?;
        written = written.extended(token, log_probability, past);
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
        let mut pasts = Vec::with_capacity(running.len());
        for (beam, (log_probabilities, past)) in writer.next(&running)?.into_iter().enumerate() {
            let score = running[beam].score();
            pasts.push(past);
            // The step's 2·width best come from each beam's own 2·width best.
            candidates.extend(best_tokens(&log_probabilities, 2 * width).into_iter().map(
                |token| {
                    (
                        score + log_probabilities[token],
                        beam,
                        token as u32,
                        log_probabilities[token],
                    )
                },
            ));
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.truncate(2 * width);
        let ends = |token: u32| token == eos || step == limit;
        for &(total, beam, token, lp) in candidates.iter().take(width) {
            if ends(token) {
                let hypothesis = running[beam].extended(token, lp, Arc::clone(&pasts[beam]));
                finished.push((total / step as f32, hypothesis));
            }
        }
        finished.sort_by(|a, b| b.0.total_cmp(&a.0));
        finished.truncate(width);
        running = candidates
            .iter()
            .filter(|&&(_, _, token, _)| !ends(token))
            .take(width)
            .map(|&(_, beam, token, lp)| {
                running[beam].extended(token, lp, Arc::clone(&pasts[beam]))
            })
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

/// The indices of the `count` largest values, in no order.
fn best_tokens(values: &[f32], count: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..values.len()).collect();
    if count < indices.len() {
        indices.select_nth_unstable_by(count, |&a, &b| values[b].total_cmp(&values[a]));
        indices.truncate(count);
    }
    indices
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture folder's model (tests/fixtures, made from transformers).
    fn fixture(name: &str) -> Model {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name);
        Model::from_dir(&dir).expect("fixture")
    }

    /// Writing one token at a time from the cache gives, at every position, the logits of the
    /// full pass over the whole target (T5's relative bias, BART's offset and Marian's
    /// sinusoids all at the later positions), with a padded source for T5.
    #[test]
    fn step_by_step_logits_equal_the_full_pass() -> Result<()> {
        for name in ["t5", "bart", "marian"] {
            let model = fixture(name);
            let network = model.encoder_decoder()?;
            let mut source = model.tokenize("Attention is all you need.")?.ids;
            let seq2seq = model.seq2seq_config()?;
            source.extend([seq2seq.pad_token_id; 3]);
            let target = model.target_ids("Hallo Welt, die Katze")?;
            let full = model.encoder_decoder_trace(&source, &target)?.logits;
            let visible = visible_tokens(&source, seq2seq.pad_token_id)?;
            let memory = network.encode(
                &Tensor::new(source.as_slice(), &Device::Cpu)?,
                visible.as_ref(),
                model.interventions(),
            )?;
            let writer = Writer {
                network,
                source: network.decoder.project_source(&memory)?,
                visible,
                lab: model.interventions(),
            };
            let mut hypothesis = Hypothesis {
                ids: vec![target[0]],
                log_probabilities: Vec::new(),
                past: Arc::new(Vec::new()),
            };
            for (position, &next) in target
                .iter()
                .enumerate()
                .skip(1)
                .chain([(target.len(), &0)])
            {
                let (logits, past) = writer.next_logits(&hypothesis)?;
                let expected = full.row(&[position - 1]).expect("row");
                let error = logits
                    .to_vec1::<f32>()?
                    .iter()
                    .zip(expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(error < 1e-4, "{name}: position {}: {error}", position - 1);
                hypothesis = hypothesis.extended(next, 0.0, past);
            }
        }
        Ok(())
    }
}
