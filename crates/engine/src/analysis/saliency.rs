//! Gradient×input saliency (Ecco's definition) of one target logit over the input tokens.
use candle_core::{Var, D};

use crate::error::{EngineError, Result};
use crate::Model;
use ae_messages::Saliency;

impl Model {
    /// The gradient of the target's logit at `position` with respect to the input token
    /// embeddings, times those embeddings, L2 norm per token, normalised to sum 1. Defaults:
    /// the prediction position and its top-1 token.
    pub fn saliency(
        &self,
        ids: &[u32],
        position: Option<usize>,
        target_id: Option<u32>,
    ) -> Result<Saliency> {
        let position = match position {
            Some(position) => position,
            None => self.default_positions(ids)?[0],
        };
        self.check_position(ids, position)?;
        let head = self.head()?;
        let token_embeddings = Var::from_tensor(&self.embed_tokens(ids)?)?;
        let pass = self.run_from(token_embeddings.as_tensor())?;
        let hidden_row = pass.final_hidden.narrow(0, position, 1)?;
        let vocab = self.config.vocab_size;
        let target_id = match target_id {
            Some(id) if (id as usize) < vocab => id,
            Some(id) => return Err(EngineError::TargetOutOfVocabulary { id, vocab }),
            // The top-1 token, from logits outside the gradient graph.
            None => head
                .logits(&hidden_row.detach())?
                .squeeze(0)?
                .argmax(D::Minus1)?
                .to_scalar::<u32>()?,
        };
        // Only the target's logit is differentiated: one column of the head, not all of them.
        let gradients = head
            .logit(&hidden_row, target_id as usize)?
            .sum_all()?
            .backward()?;
        let gradient = gradients.get(token_embeddings.as_tensor()).ok_or_else(|| {
            EngineError::compute("the target logit does not depend on the input embeddings")
        })?;
        let per_token = (gradient * token_embeddings.as_tensor())?
            .sqr()?
            .sum(D::Minus1)?
            .sqrt()?;
        let shares = per_token.broadcast_div(&per_token.sum_all()?)?;
        Ok(Saliency {
            position,
            target_id,
            target_token: self.tokenizer.display_token(target_id),
            scores: shares.to_vec1::<f32>()?,
        })
    }
}
