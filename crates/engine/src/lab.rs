//! The lab: interventions on a one-text model's forward pass ([`Interventions`]) — heads switched
//! off, a decoder's causal mask removed, an encoder's text padded with or without its key
//! padding mask. Set once on the model; every trace, prediction, lens, saliency and ranking
//! then runs with them.
use candle_core::{Tensor, D};

use crate::encoder_decoder::visible_tokens;
use crate::error::{EngineError, Result};
use crate::network;
use crate::recorder::Recorder;
use crate::Model;
use ae_messages::{HeadId, HeadImportance, Interventions};

impl Model {
    /// Makes every later one-text pass run with `interventions`, after checking the model has
    /// what they name.
    pub fn set_interventions(&mut self, interventions: Interventions) -> Result<()> {
        if self.is_encoder_decoder() {
            self.check_encoder_decoder_lab(&interventions)?;
        } else {
            self.check_one_text_lab(&interventions)?;
        }
        self.interventions = interventions;
        Ok(())
    }

    /// An encoder–decoder takes heads switched off in each of its attentions, nothing else.
    fn check_encoder_decoder_lab(&self, lab: &Interventions) -> Result<()> {
        let config = &self.config;
        if lab.changes_masks_or_padding() {
            return Err(EngineError::LabHeadsOnly {
                architecture: config.architecture.name().to_string(),
            });
        }
        let (encoder_heads, _) = config.heads_and_mlp_width(false);
        let (decoder_heads, _) = config.heads_and_mlp_width(true);
        let decoder_layers = self.seq2seq_config()?.decoder_layers;
        check_heads(&lab.ablated_encoder, config.n_layer, encoder_heads)?;
        check_heads(&lab.ablated, decoder_layers, decoder_heads)?;
        check_heads(&lab.ablated_cross, decoder_layers, decoder_heads)
    }

    /// A one-text model's lab: its heads, its causal mask or its padding.
    fn check_one_text_lab(&self, interventions: &Interventions) -> Result<()> {
        let config = &self.config;
        let architecture = || config.architecture.name().to_string();
        if !interventions.ablated_encoder.is_empty() || !interventions.ablated_cross.is_empty() {
            return Err(EngineError::NotEncoderDecoder {
                architecture: architecture(),
            });
        }
        check_heads(&interventions.ablated, config.n_layer, config.n_head)?;
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

    /// For the prediction at `position` (default: where the model predicts) of `target`
    /// (default: its top token there), the drop in log p(target) when each head alone is
    /// switched off, on top of the lab's interventions: one pass per head, from that head's
    /// block on (the blocks before it are the base pass's).
    pub fn head_importance(
        &self,
        ids: &[u32],
        position: Option<usize>,
        target: Option<u32>,
    ) -> Result<HeadImportance> {
        self.head_importance_reporting(ids, position, target, &mut |_, _| {})
    }

    /// [`Model::head_importance`], calling `progress(done, total)` after each pass.
    pub fn head_importance_reporting(
        &self,
        ids: &[u32],
        position: Option<usize>,
        target: Option<u32>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<HeadImportance> {
        let position = match position {
            Some(position) => position,
            None => self.default_positions(ids)?[0],
        };
        self.check_position(ids, position)?;
        let head = self.head()?;
        let network = self.network()?;
        let log_probabilities = |final_hidden: &Tensor| -> Result<Vec<f32>> {
            let logits = head.logits(&final_hidden.narrow(0, position, 1)?)?;
            Ok(candle_nn::ops::log_softmax(&logits.squeeze(0)?, D::Minus1)?.to_vec1()?)
        };
        let rec = self.with_interventions(Recorder::streams_only(), ids)?;
        let pass = network::forward(network, &self.embed_tokens(ids)?, rec)?;
        let base = log_probabilities(&pass.final_hidden)?;
        let target_id = match target {
            Some(id) if (id as usize) < base.len() => id,
            Some(id) => {
                return Err(EngineError::TargetOutOfVocabulary {
                    id,
                    vocab: base.len(),
                })
            }
            None => (0..base.len())
                .max_by(|&a, &b| base[a].total_cmp(&base[b]))
                .unwrap_or(0) as u32,
        };
        let of_target = base[target_id as usize];
        let (layers, heads) = (self.config.n_layer, self.config.n_head);
        let mut drops = vec![vec![0.0; heads]; layers];
        for (layer, row) in drops.iter_mut().enumerate() {
            for (head, drop) in row.iter_mut().enumerate() {
                let mut lab = self.interventions.clone();
                lab.ablated.push(HeadId { layer, head });
                // Blocks before `layer` are the base pass's: only the rest runs again.
                let rec = self.with_lab(Recorder::streams_only(), ids, &lab)?;
                let final_hidden =
                    network::forward_from(network, &pass.residual_streams, layer, rec)?;
                *drop = of_target - log_probabilities(&final_hidden)?[target_id as usize];
                progress(layer * heads + head + 1, layers * heads);
            }
        }
        Ok(HeadImportance {
            position,
            target_id,
            target_token: self.tokenizer.display_token(target_id),
            log_probability: of_target,
            drops,
        })
    }

    /// `rec` with the model's interventions (see [`Model::with_lab`]).
    pub(crate) fn with_interventions(&self, rec: Recorder, ids: &[u32]) -> Result<Recorder> {
        self.with_lab(rec, ids, &self.interventions)
    }

    /// `rec` with `lab`, and for a padded text the mask that hides its padding tokens from
    /// every query (what `attention_mask` does in transformers).
    fn with_lab(&self, rec: Recorder, ids: &[u32], lab: &Interventions) -> Result<Recorder> {
        let visible_keys = match self.hidden_padding(lab) {
            Some(pad) => visible_tokens(ids, pad)?,
            None => None,
        };
        Ok(rec.with_interventions(lab.clone(), visible_keys))
    }

    /// The padding token `lab` hides from every query: the text is padded and the padding
    /// mask is on.
    pub(crate) fn hidden_padding(&self, lab: &Interventions) -> Option<u32> {
        match (lab.pad_to, lab.padding_mask_off) {
            (Some(_), false) => self.tokenizer.pad_token_id(),
            _ => None,
        }
    }
}

/// Every head in `heads` exists in a stack of `layers` layers of `per_layer` heads.
fn check_heads(heads: &[HeadId], layers: usize, per_layer: usize) -> Result<()> {
    match heads
        .iter()
        .find(|h| h.layer >= layers || h.head >= per_layer)
    {
        Some(head) => Err(EngineError::NoSuchHead {
            layer: head.layer,
            head: head.head,
            layers,
            heads: per_layer,
        }),
        None => Ok(()),
    }
}
