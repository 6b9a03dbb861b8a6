//! Predictions: the next token of a decoder, or the fill of each [MASK] of a masked LM.
use candle_core::{IndexOp, Tensor};

use crate::error::{EngineError, Result};
use crate::recorder::Recorder;
use crate::Model;
use ae_messages::{Candidate, PositionPredictions, Predictions};

/// Logits where the model predicts: one row [vocab] per position.
#[derive(Debug, Clone)]
pub struct PredictionLogits {
    /// The predicted positions: a decoder's last, or each [MASK].
    pub positions: Vec<usize>,
    /// [positions, vocab].
    pub rows: Tensor,
}

impl Model {
    /// Top-k predictions without recording a trace: the LM head runs only where it is needed.
    pub fn predict(&self, ids: &[u32], k: usize, temperature: f32) -> Result<Predictions> {
        self.predictions_from_rows(&self.prediction_logits(ids)?, k, temperature)
    }

    /// The logits where the model predicts, without a trace (the LM head runs only there).
    pub fn prediction_logits(&self, ids: &[u32]) -> Result<PredictionLogits> {
        let positions = self.default_positions(ids)?;
        let (_, pass) = self.run(ids, Recorder::streams_only())?;
        self.logits_at(&pass.final_hidden, positions)
    }

    /// The head's logits for the final hidden rows at `positions`.
    pub(crate) fn logits_at(
        &self,
        final_hidden: &Tensor,
        positions: Vec<usize>,
    ) -> Result<PredictionLogits> {
        let index: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        let index = Tensor::new(index.as_slice(), final_hidden.device())?;
        let rows = self
            .head()?
            .logits(&final_hidden.index_select(&index, 0)?)?;
        Ok(PredictionLogits { positions, rows })
    }

    /// Top-k predictions from logits already computed at the predicted positions, so a new
    /// temperature does not run the model again.
    pub fn predictions_from_rows(
        &self,
        logits: &PredictionLogits,
        k: usize,
        temperature: f32,
    ) -> Result<Predictions> {
        if logits.rows.dims() != [logits.positions.len(), self.config.vocab_size] {
            return Err(EngineError::compute(format!(
                "logits of shape {:?} do not belong to {} positions",
                logits.rows.dims(),
                logits.positions.len()
            )));
        }
        let mut per_position = logits
            .positions
            .iter()
            .enumerate()
            .map(|(row, &position)| {
                Ok(PositionPredictions {
                    position,
                    candidates: self.top_k(&logits.rows.i(row)?, k, temperature)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(if self.config.architecture.is_causal() {
            Predictions::NextToken(per_position.remove(0))
        } else {
            Predictions::MaskFill(per_position)
        })
    }

    /// One token's candidate entry from a logits row [vocab], its probability at `temperature`.
    pub fn candidate(&self, logits: &Tensor, token_id: u32, temperature: f32) -> Result<Candidate> {
        let probabilities = candle_nn::ops::softmax_last_dim(&(logits / temperature as f64)?)?;
        Ok(Candidate {
            token_id,
            token: self.tokenizer.display_token(token_id),
            text: self.tokenizer.token_text(token_id),
            probability: probabilities.i(token_id as usize)?.to_scalar::<f32>()?,
            logit: logits.i(token_id as usize)?.to_scalar::<f32>()?,
        })
    }

    /// Where predictions are read: the last token for decoders, every mask for masked LMs.
    pub fn default_positions(&self, ids: &[u32]) -> Result<Vec<usize>> {
        self.head()?;
        if self.config.architecture.is_causal() {
            return match ids.len() {
                0 => Err(EngineError::TextEmpty),
                n => Ok(vec![n - 1]),
            };
        }
        let (mask_text, mask_id) = self
            .tokenizer
            .mask_token()
            .ok_or(EngineError::NoMaskInVocabulary)?;
        let positions: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id == mask_id)
            .map(|(i, _)| i)
            .collect();
        if positions.is_empty() {
            return Err(EngineError::NoMask {
                mask: mask_text.to_string(),
            });
        }
        Ok(positions)
    }

    /// The `k` most probable tokens of a logits row [vocab] at `temperature`.
    pub(crate) fn top_k(
        &self,
        logits: &Tensor,
        k: usize,
        temperature: f32,
    ) -> Result<Vec<Candidate>> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(EngineError::BadTemperature { temperature });
        }
        let probabilities = candle_nn::ops::softmax_last_dim(&(logits / temperature as f64)?)?;
        let order = probabilities.arg_sort_last_dim(false)?;
        let top = order.narrow(0, 0, k.min(logits.dim(0)?))?;
        let top_ids = top.to_vec1::<u32>()?;
        let top_probabilities = probabilities.gather(&top, 0)?.to_vec1::<f32>()?;
        let top_logits = logits.gather(&top, 0)?.to_vec1::<f32>()?;
        Ok(top_ids
            .into_iter()
            .zip(top_probabilities)
            .zip(top_logits)
            .map(|((token_id, probability), logit)| Candidate {
                token_id,
                token: self.tokenizer.display_token(token_id),
                text: self.tokenizer.token_text(token_id),
                probability,
                logit,
            })
            .collect())
    }
}
