//! The logit lens: the final norm and LM head applied to every layer's residual stream.
use candle_core::{DType, IndexOp, Tensor, D};

use crate::error::Result;
use crate::recorder::Recorder;
use crate::Model;
use ae_messages::{LensLayer, LogitLens};

impl Model {
    /// Logits of the final norm + LM head applied to every residual stream at `position`
    /// [n_layer + 1, vocab] (row 0: the embeddings; the last row equals the final logits).
    pub fn lens_logits(&self, ids: &[u32], position: usize) -> Result<Tensor> {
        self.check_position(ids, position)?;
        let (_, pass) = self.run(ids, Recorder::streams_only())?;
        let head = self.head()?;
        let rows = pass
            .residual_streams
            .iter()
            .map(|stream| stream.narrow(0, position, 1))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(head.logits(&self.final_norm(&Tensor::cat(&rows, 0)?)?)?)
    }

    /// The logit lens at `position` (default: where the model predicts): top-k per layer and
    /// the rank of the final prediction at every layer.
    pub fn logit_lens(&self, ids: &[u32], position: Option<usize>, k: usize) -> Result<LogitLens> {
        let position = match position {
            Some(position) => position,
            None => self.default_positions(ids)?[0],
        };
        let logits = self.lens_logits(ids, position)?;
        let n_rows = logits.dim(0)?;
        let final_token_id = logits
            .i(n_rows - 1)?
            .argmax(D::Minus1)?
            .to_scalar::<u32>()?;
        let layers = (0..n_rows)
            .map(|layer| {
                let row = logits.i(layer)?;
                let final_logit = row.i(final_token_id as usize)?;
                let above = row
                    .broadcast_gt(&final_logit)?
                    .to_dtype(DType::U32)?
                    .sum_all()?;
                Ok(LensLayer {
                    layer,
                    top: self.top_k(&row, k, 1.0)?,
                    final_token_rank: above.to_scalar::<u32>()? as usize + 1,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogitLens {
            position,
            final_token_id,
            layers,
        })
    }
}
