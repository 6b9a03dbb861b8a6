//! Gradient×input saliency (Ecco's definition) of one target logit over the input tokens.
use candle_core::{Device, Tensor, Var, D};

use crate::encoder_decoder::visible_tokens;
use crate::error::{EngineError, Result};
use crate::Model;
use ae_messages::{PairSaliency, Saliency};

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
        let pass = self.run_from(ids, token_embeddings.as_tensor())?;
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

impl Model {
    /// Saliency of the logit of `target_id` at target `position` (default: the last) over the
    /// source's and the target's token embeddings, shares of one sum. Default token: the
    /// model's top-1 there.
    pub fn pair_saliency(
        &self,
        source_ids: &[u32],
        target_ids: &[u32],
        position: Option<usize>,
        target_id: Option<u32>,
    ) -> Result<PairSaliency> {
        let network = self.encoder_decoder()?;
        self.check_pair(source_ids, target_ids)?;
        let position = position.unwrap_or(target_ids.len() - 1);
        self.check_position(target_ids, position)?;
        let pad = self.config.encoder_decoder.as_ref().map(|c| c.pad_token_id);
        let visible = match pad {
            Some(pad) => visible_tokens(source_ids, pad)?,
            None => None,
        };
        let embed = |ids: &[u32]| -> Result<Var> {
            let ids = Tensor::new(ids, &Device::Cpu)?;
            Ok(Var::from_tensor(&network.embedding.forward(&ids)?)?)
        };
        let (source, target) = (embed(source_ids)?, embed(target_ids)?);
        let pass = network.forward_embeddings(
            source.as_tensor().clone(),
            visible.as_ref(),
            target.as_tensor().clone(),
            false,
            &self.interventions,
        )?;
        let hidden_row =
            (pass.decoder.pass.final_hidden.narrow(0, position, 1)? * network.head_input_scale)?;
        let vocab = self.config.vocab_size;
        let target_id = match target_id {
            Some(id) if (id as usize) < vocab => id,
            Some(id) => return Err(EngineError::TargetOutOfVocabulary { id, vocab }),
            None => network
                .head
                .logits(&hidden_row.detach())?
                .squeeze(0)?
                .argmax(D::Minus1)?
                .to_scalar::<u32>()?,
        };
        let gradients = network
            .head
            .logit(&hidden_row, target_id as usize)?
            .sum_all()?
            .backward()?;
        let source_norms = gradient_times_input(&gradients, &source)?;
        let target_norms = gradient_times_input(&gradients, &target)?;
        let total = (source_norms.sum_all()? + target_norms.sum_all()?)?;
        let share = |norms: &Tensor| -> Result<Vec<f32>> {
            Ok(norms.broadcast_div(&total)?.to_vec1::<f32>()?)
        };
        Ok(PairSaliency {
            position,
            target_id,
            target_token: self.tokenizer.display_token(target_id),
            source: share(&source_norms)?,
            target: share(&target_norms)?,
        })
    }
}

/// ‖∂logit/∂eᵢ ⊙ eᵢ‖₂ for each row of `embeddings` [tokens]; 0 for rows the logit does not
/// depend on.
fn gradient_times_input(
    gradients: &candle_core::backprop::GradStore,
    embeddings: &Var,
) -> Result<Tensor> {
    let embeddings = embeddings.as_tensor();
    match gradients.get(embeddings) {
        Some(gradient) => Ok((gradient * embeddings)?.sqr()?.sum(D::Minus1)?.sqrt()?),
        None => Ok(Tensor::zeros(
            embeddings.dim(0)?,
            candle_core::DType::F32,
            &Device::Cpu,
        )?),
    }
}
