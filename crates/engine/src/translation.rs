//! An encoder–decoder over a (source, target) pair: the target's ids and the full trace.
use candle_core::Tensor;

use super::encoder_decoder::{visible_tokens, Positions, Stack, StackPass};
use super::error::{EngineError, Result};
use super::model::Model;
use super::trace::{stack, stack_feed_forward, stack_internals, to_array};
use super::Device;
use ae_messages::{EncoderDecoderTrace, RelativePositions, StackTrace};

impl Model {
    /// The decoder's input for a target text: the decoder start token, then the text's tokens
    /// without special tokens (so no end token: the target is what has been written so far).
    pub fn target_ids(&self, text: &str) -> Result<Vec<u32>> {
        let start = self.seq2seq_config()?.decoder_start_token_id;
        let mut ids = vec![start];
        ids.extend(self.target_side_tokenizer().encode_plain(text)?.ids);
        Ok(ids)
    }

    /// Everything the encoder and the decoder compute for `source_ids` and `target_ids`: each
    /// stack's attention internals, hidden states and MLP activations, the cross-attention, and
    /// the logits at every target position. Source tokens equal to the padding token are hidden
    /// from attention.
    pub fn encoder_decoder_trace(
        &self,
        source_ids: &[u32],
        target_ids: &[u32],
    ) -> Result<EncoderDecoderTrace> {
        let network = self.encoder_decoder()?;
        self.check_pair(source_ids, target_ids)?;
        let pad = self.seq2seq_config()?.pad_token_id;
        let visible = visible_tokens(source_ids, pad)?;
        let source = Tensor::new(source_ids, &Device::Cpu)?;
        let target = Tensor::new(target_ids, &Device::Cpu)?;
        let pass = network.forward(
            &source,
            visible.as_ref(),
            &target,
            true,
            &self.interventions,
        )?;
        let logits = network.logits(&pass.decoder.pass.final_hidden)?;
        let cross: Vec<_> = pass
            .decoder
            .pass
            .layers
            .iter()
            .filter_map(|layer| layer.cross_attention.clone())
            .collect();
        let (cross_internals, cross_weights): (Vec<_>, Vec<_>) = cross.into_iter().unzip();
        Ok(EncoderDecoderTrace {
            architecture: self.config.architecture,
            source: self.stack_trace(
                source_ids,
                &pass.source_embeddings,
                &pass.encoder,
                &network.encoder,
            )?,
            target: self.stack_trace(
                target_ids,
                &pass.target_embeddings,
                &pass.decoder,
                &network.decoder,
            )?,
            source_visible: source_ids.iter().map(|&id| id != pad).collect(),
            cross_attentions: stack(&cross_weights)?,
            cross_attention: stack_internals(&cross_internals)?,
            logits: to_array(&logits)?,
        })
    }

    /// One stack's part of the trace.
    fn stack_trace(
        &self,
        ids: &[u32],
        token_embeddings: &Tensor,
        stack_pass: &StackPass,
        side: &Stack,
    ) -> Result<StackTrace> {
        let pass = &stack_pass.pass;
        let internals: Vec<_> = pass.layers.iter().map(|l| l.attention.clone()).collect();
        let weights: Vec<_> = pass
            .layers
            .iter()
            .map(|l| l.attention_weights.clone())
            .collect();
        Ok(StackTrace {
            input_ids: ids.to_vec(),
            tokens: ids
                .iter()
                .map(|&id| self.tokenizer.display_token(id))
                .collect(),
            token_embeddings: to_array(token_embeddings)?,
            position_embeddings: pass
                .embedded
                .position_embeddings
                .as_ref()
                .map(to_array)
                .transpose()?,
            embedding_sum: to_array(&pass.embedded.embedding_sum)?,
            attentions: stack(&weights)?,
            hidden_states: stack(&pass.hidden_states())?,
            attention: stack_internals(&internals)?,
            position_bias: stack_pass
                .position_bias
                .as_ref()
                .map(to_array)
                .transpose()?,
            relative_positions: relative_positions(side)?,
            feed_forward: stack_feed_forward(&pass.layers)?,
        })
    }

    /// An error unless both sides have tokens the model knows and fit its positions.
    pub(crate) fn check_pair(&self, source_ids: &[u32], target_ids: &[u32]) -> Result<()> {
        let max = self.config.max_positions;
        if source_ids.is_empty() || target_ids.is_empty() {
            return Err(EngineError::TextEmpty);
        }
        if source_ids.len() > max {
            return Err(EngineError::SourceTooLong {
                tokens: source_ids.len(),
                max,
            });
        }
        if target_ids.len() > max {
            return Err(EngineError::TargetTooLong {
                tokens: target_ids.len(),
                max,
            });
        }
        let vocab = self.config.vocab_size;
        match source_ids
            .iter()
            .chain(target_ids)
            .find(|&&id| id as usize >= vocab)
        {
            Some(&id) => Err(EngineError::TokenOutOfVocabulary { id, vocab }),
            None => Ok(()),
        }
    }

    /// The encoder–decoder's numbers, or the error that says this model reads one text.
    pub(crate) fn seq2seq_config(&self) -> Result<&super::config::EncoderDecoderConfig> {
        self.config
            .encoder_decoder
            .as_ref()
            .ok_or_else(|| EngineError::NotEncoderDecoder {
                architecture: self.config.architecture.name().to_string(),
            })
    }
}

/// T5's bias by distance (`None` for a stack that adds positions to its input).
fn relative_positions(stack: &Stack) -> Result<Option<RelativePositions>> {
    let Positions::Relative(relative) = &stack.positions else {
        return Ok(None);
    };
    let (distances, buckets, bias) = relative.by_distance()?;
    Ok(Some(RelativePositions {
        distances,
        buckets,
        bias: to_array(&bias)?,
    }))
}
