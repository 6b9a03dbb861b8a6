//! The loaded model's anatomy: every weight tensor with its shape, and what part of the
//! Transformer it belongs to.
use serde::{Deserialize, Serialize};

/// What part of the model a weight belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelPart {
    /// Token, position and segment embeddings (GPT-2's also serves as its tied LM head).
    Embeddings,
    /// Q, K, V and output projections, and T5's relative position bias.
    Attention,
    /// The position-wise feed-forward network's matrices.
    FeedForward,
    /// Layer norms and RMS norms (γ, β).
    Norms,
    /// A language-model head of its own: an untied vocabulary matrix, BERT's prediction
    /// transform, a logits bias.
    Head,
    /// Anything else (BERT's pooler).
    Other,
}

impl ModelPart {
    /// Every part, in the order the anatomy view lists them.
    pub const ALL: [ModelPart; 6] = [
        ModelPart::Embeddings,
        ModelPart::Attention,
        ModelPart::FeedForward,
        ModelPart::Norms,
        ModelPart::Head,
        ModelPart::Other,
    ];
}

/// One weight tensor as the checkpoint names and shapes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    /// The checkpoint's name (`h.0.attn.c_attn.weight`, `blk.0.ffn_up.weight` …).
    pub name: String,
    /// Its shape as stored in the file.
    pub shape: Vec<usize>,
    /// The block it belongs to, if any (0-based).
    pub layer: Option<usize>,
    /// What it does.
    pub part: ModelPart,
}

impl Weight {
    /// Its number of values.
    pub fn parameters(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Every weight of the loaded model, in the checkpoint's order by block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anatomy {
    pub weights: Vec<Weight>,
}

impl Anatomy {
    /// All parameters: the model card's count.
    pub fn total(&self) -> usize {
        self.weights.iter().map(Weight::parameters).sum()
    }

    /// The parameters of one part.
    pub fn part_total(&self, part: ModelPart) -> usize {
        self.weights
            .iter()
            .filter(|w| w.part == part)
            .map(Weight::parameters)
            .sum()
    }
}
