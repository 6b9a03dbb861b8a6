//! The lab's interventions: what a student changes in a forward pass to see what a part of the
//! model does — heads switched off (in an encoder–decoder, in any of its three attentions), the
//! causal mask removed, an encoder's input padded with or without its key padding mask.
use serde::{Deserialize, Serialize};

use crate::{Array, AttentionKind};

/// One head, counted from 0 (the page and the CLI show them from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HeadId {
    pub layer: usize,
    pub head: usize,
}

impl HeadId {
    /// `L:H[,L:H…]`, counted from 1 as the page and the CLI write heads; `None` if any pair is
    /// not two whole numbers from 1.
    pub fn parse_list(text: &str) -> Option<Vec<HeadId>> {
        text.split(',')
            .map(|pair| {
                let (layer, head) = pair.trim().split_once(':')?;
                let from_one = |n: &str| n.trim().parse::<usize>().ok().filter(|&n| n >= 1);
                Some(HeadId {
                    layer: from_one(layer)? - 1,
                    head: from_one(head)? - 1,
                })
            })
            .collect()
    }

    /// The heads as [`HeadId::parse_list`] reads them.
    pub fn list_text(heads: &[HeadId]) -> String {
        let pairs: Vec<String> = heads.iter().map(HeadId::to_string).collect();
        pairs.join(",")
    }
}

/// `layer:head`, counted from 1.
impl std::fmt::Display for HeadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.layer + 1, self.head + 1)
    }
}

/// What replaces a switched-off head's output before the output projection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ablation {
    /// Zeros: the head contributes nothing.
    #[default]
    Zero,
    /// Its own output averaged over the text's positions: the head still adds its typical
    /// vector, but no longer depends on which tokens it attends to.
    Mean,
}

/// Every change the lab makes to one forward pass; the default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interventions {
    /// The self-attention heads switched off: of the model's one stack, or of an
    /// encoder–decoder's decoder.
    #[serde(default)]
    pub ablated: Vec<HeadId>,
    /// An encoder–decoder's encoder self-attention heads switched off.
    #[serde(default)]
    pub ablated_encoder: Vec<HeadId>,
    /// An encoder–decoder's cross-attention heads switched off (the decoder's layers).
    #[serde(default)]
    pub ablated_cross: Vec<HeadId>,
    #[serde(default)]
    pub ablation: Ablation,
    /// A decoder's causal mask removed: every token attends to the whole text, the future
    /// included.
    #[serde(default)]
    pub causal_mask_off: bool,
    /// An encoder's text padded with its padding token to this many tokens (a batch's length).
    #[serde(default)]
    pub pad_to: Option<usize>,
    /// The padding tokens left visible to attention (no key padding mask).
    #[serde(default)]
    pub padding_mask_off: bool,
}

/// Which heads matter for one prediction: the drop in the target's log-probability when each
/// head alone is switched off (on top of the lab's interventions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadImportance {
    /// The position predicted at.
    pub position: usize,
    /// The target token (by default the model's top one there) and its display string.
    pub target_id: u32,
    pub target_token: String,
    /// log p(target) with every head on (nats).
    pub log_probability: f32,
    /// log p(target) with every head on − with head [layer][head] off: positive where the head
    /// helps the prediction.
    pub drops: Vec<Vec<f32>>,
}

/// The induction detector's repeated sequence length when nobody chooses one.
pub const INDUCTION_PERIOD: usize = 20;

/// The longest period whose two copies, after a start token, fit `max_positions`.
pub fn max_induction_period(max_positions: usize) -> usize {
    max_positions.saturating_sub(1) / 2
}

/// How much each head behaves like an induction head (… A B … A → attends to B), measured on
/// a sequence of random tokens repeated once: [start] + R + R.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InductionScores {
    /// The sequence's ids and display strings.
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// R's length; R's first copy starts at `offset` (1 after a start token, else 0).
    pub period: usize,
    pub offset: usize,
    /// [layer][head]: the weight from each token of the second copy to the token after its
    /// first occurrence (query i, key i − period + 1), averaged over the second copy.
    pub scores: Vec<Vec<f32>>,
    /// The attention weights on the sequence [layer, head, query, key].
    pub attentions: Array,
}

impl Interventions {
    /// Whether the pass runs as the model was trained.
    pub fn is_none(&self) -> bool {
        *self == Interventions::default()
    }

    /// The self-attention heads of `layer` switched off, in order.
    pub fn ablated_in(&self, layer: usize) -> Vec<usize> {
        heads_in(&self.ablated, layer)
    }

    /// The cross-attention heads of `layer` switched off, in order.
    pub fn ablated_cross_in(&self, layer: usize) -> Vec<usize> {
        heads_in(&self.ablated_cross, layer)
    }

    /// An encoder–decoder's switched-off heads of one attention kind.
    pub fn ablated_of(&self, kind: AttentionKind) -> &Vec<HeadId> {
        match kind {
            AttentionKind::EncoderSelf => &self.ablated_encoder,
            AttentionKind::DecoderSelf => &self.ablated,
            AttentionKind::Cross => &self.ablated_cross,
        }
    }

    /// [`Interventions::ablated_of`], to change.
    pub fn ablated_of_mut(&mut self, kind: AttentionKind) -> &mut Vec<HeadId> {
        match kind {
            AttentionKind::EncoderSelf => &mut self.ablated_encoder,
            AttentionKind::DecoderSelf => &mut self.ablated,
            AttentionKind::Cross => &mut self.ablated_cross,
        }
    }

    /// What an encoder–decoder's encoder runs with: its own heads as `ablated`. The page sends
    /// [`Self::for_model`]'s part; the engine splits it with this and [`Self::decoder_side`].
    pub fn encoder_side(&self) -> Interventions {
        Interventions {
            ablated: self.ablated_encoder.clone(),
            ablation: self.ablation,
            ..Interventions::default()
        }
    }

    /// What an encoder–decoder's decoder runs with: its self- and cross-attention heads.
    pub fn decoder_side(&self) -> Interventions {
        Interventions {
            ablated: self.ablated.clone(),
            ablated_cross: self.ablated_cross.clone(),
            ablation: self.ablation,
            ..Interventions::default()
        }
    }

    /// What a model of this kind takes of the lab: an encoder–decoder its three head lists, a
    /// one-text model everything but the encoder's and the cross-attention's heads. (A page's
    /// lab outlives a change of model; each model is sent only what it can run.)
    pub fn for_model(&self, encoder_decoder: bool) -> Interventions {
        match encoder_decoder {
            true => Interventions {
                ablated: self.ablated.clone(),
                ablated_encoder: self.ablated_encoder.clone(),
                ablated_cross: self.ablated_cross.clone(),
                ablation: self.ablation,
                ..Interventions::default()
            },
            false => Interventions {
                ablated_encoder: Vec::new(),
                ablated_cross: Vec::new(),
                ..self.clone()
            },
        }
    }

    /// Whether anything but switched-off heads and how they are replaced is set (what an
    /// encoder–decoder's passes do not take).
    pub fn changes_masks_or_padding(&self) -> bool {
        self.causal_mask_off || self.pad_to.is_some() || self.padding_mask_off
    }
}

/// Switches `head` off if it is on, on if it is off, keeping `heads` sorted.
pub fn toggle_head(heads: &mut Vec<HeadId>, head: HeadId) {
    match heads.iter().position(|h| *h == head) {
        Some(at) => {
            heads.remove(at);
        }
        None => {
            heads.push(head);
            heads.sort();
        }
    }
}

/// The heads of `layer` among `heads`, in order, each once.
fn heads_in(heads: &[HeadId], layer: usize) -> Vec<usize> {
    let mut in_layer: Vec<usize> = heads
        .iter()
        .filter(|h| h.layer == layer)
        .map(|h| h.head)
        .collect();
    in_layer.sort_unstable();
    in_layer.dedup();
    in_layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_lists_are_counted_from_one_both_ways() {
        let heads = HeadId::parse_list("1:3, 2:1").expect("two heads");
        assert_eq!(
            heads,
            [HeadId { layer: 0, head: 2 }, HeadId { layer: 1, head: 0 }]
        );
        assert_eq!(HeadId::list_text(&heads), "1:3,2:1");
        for bad in ["0:1", "1", "1:x", "", "1:2,"] {
            assert_eq!(HeadId::parse_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_kind_of_model_is_given_what_it_takes() {
        let head = HeadId { layer: 0, head: 1 };
        let lab = Interventions {
            ablated: vec![head],
            ablated_encoder: vec![head],
            ablated_cross: vec![head],
            ablation: Ablation::Mean,
            causal_mask_off: true,
            pad_to: Some(9),
            padding_mask_off: true,
        };
        let seq2seq = lab.for_model(true);
        assert!(!seq2seq.changes_masks_or_padding());
        assert_eq!(seq2seq.ablated_of(AttentionKind::Cross), &[head]);
        assert_eq!(seq2seq.ablated_of(AttentionKind::EncoderSelf), &[head]);
        assert_eq!(seq2seq.ablation, Ablation::Mean);
        let one_text = lab.for_model(false);
        assert!(one_text.ablated_encoder.is_empty() && one_text.ablated_cross.is_empty());
        assert_eq!((one_text.ablated, one_text.pad_to), (vec![head], Some(9)));
        let mut heads = vec![head];
        toggle_head(&mut heads, HeadId { layer: 0, head: 0 });
        assert_eq!(heads, [HeadId { layer: 0, head: 0 }, head]);
        toggle_head(&mut heads, head);
        assert_eq!(heads, [HeadId { layer: 0, head: 0 }]);
    }

    #[test]
    fn a_layer_lists_its_ablated_heads_once_in_order() {
        let lab = Interventions {
            ablated: [(1, 3), (0, 2), (1, 0), (1, 3)]
                .map(|(layer, head)| HeadId { layer, head })
                .to_vec(),
            ..Interventions::default()
        };
        assert_eq!(lab.ablated_in(1), [0, 3]);
        assert!(lab.ablated_in(2).is_empty());
        assert!(!lab.is_none() && Interventions::default().is_none());
    }
}
