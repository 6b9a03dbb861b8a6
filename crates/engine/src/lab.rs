//! The lab: interventions on a one-text model's forward pass ([`Interventions`]) — heads switched
//! off, a decoder's causal mask removed, an encoder's text padded with or without its key
//! padding mask. Set once on the model; every trace, prediction, lens, saliency and ranking
//! then runs with them.
use candle_core::{Device, Tensor};

use crate::error::{EngineError, Result};
use crate::recorder::Recorder;
use crate::Model;
use ae_messages::Interventions;

impl Model {
    /// Makes every later one-text pass run with `interventions`, after checking the model has
    /// what they name.
    pub fn set_interventions(&mut self, interventions: Interventions) -> Result<()> {
        if !interventions.is_none() {
            // An encoder–decoder's passes do not take them (yet): its error says so.
            self.network()?;
        }
        let config = &self.config;
        let architecture = || config.architecture.name().to_string();
        if let Some(head) = interventions
            .ablated
            .iter()
            .find(|h| h.layer >= config.n_layer || h.head >= config.n_head)
        {
            return Err(EngineError::NoSuchHead {
                layer: head.layer,
                head: head.head,
                layers: config.n_layer,
                heads: config.n_head,
            });
        }
        let causal = config.architecture.is_causal();
        if interventions.causal_mask_off && !causal {
            return Err(EngineError::NoCausalMask {
                architecture: architecture(),
            });
        }
        if interventions.pad_to.is_some() || interventions.padding_mask_off {
            if causal {
                return Err(EngineError::PaddingNeedsEncoder {
                    architecture: architecture(),
                });
            }
            self.tokenizer
                .pad_token_id()
                .ok_or(EngineError::NoPaddingToken)?;
        }
        self.interventions = interventions;
        Ok(())
    }

    /// The interventions every one-text pass runs with.
    pub fn interventions(&self) -> &Interventions {
        &self.interventions
    }

    /// `ids` padded at the end with the padding token to the lab's `pad_to` (as a batch pads
    /// its shorter texts); unchanged without one.
    pub fn padded(&self, ids: &[u32]) -> Result<Vec<u32>> {
        let Some(pad_to) = self.interventions.pad_to else {
            return Ok(ids.to_vec());
        };
        if pad_to < ids.len() {
            return Err(EngineError::PadShorterThanText {
                pad_to,
                tokens: ids.len(),
            });
        }
        let pad = self
            .tokenizer
            .pad_token_id()
            .ok_or(EngineError::NoPaddingToken)?;
        let mut padded = ids.to_vec();
        padded.resize(pad_to, pad);
        Ok(padded)
    }

    /// `rec` with the interventions, and for a padded text the mask that hides its padding
    /// tokens from every query (what `attention_mask` does in transformers).
    pub(crate) fn with_interventions(&self, rec: Recorder, ids: &[u32]) -> Result<Recorder> {
        let lab = &self.interventions;
        let visible_keys = match (
            lab.pad_to,
            lab.padding_mask_off,
            self.tokenizer.pad_token_id(),
        ) {
            (Some(_), false, Some(pad)) => {
                let visible: Vec<u8> = ids.iter().map(|&id| u8::from(id != pad)).collect();
                Some(Tensor::new(visible, &Device::Cpu)?)
            }
            _ => None,
        };
        Ok(rec.with_interventions(lab.clone(), visible_keys))
    }
}
