//! What the user points at: the layer, the head, the hovered and pinned tokens, the step of the
//! step-through and the prediction whose saliency is shown. Controls and charts write it.
use leptos::prelude::*;

/// The shared selection.
#[derive(Clone, Copy)]
pub struct Selection {
    pub layer: RwSignal<usize>,
    pub head: RwSignal<usize>,
    /// The token under the pointer or focus.
    pub hovered: RwSignal<Option<usize>>,
    /// The token clicked to pin it.
    pub pinned: RwSignal<Option<usize>>,
    /// Step of the attention step-through.
    pub step: RwSignal<Step>,
    /// The prediction whose saliency is shown: (position, token id); `None` = the top one.
    pub saliency_target: RwSignal<Option<(usize, u32)>>,
}

impl Selection {
    pub fn new() -> Self {
        Selection {
            layer: RwSignal::new(0),
            head: RwSignal::new(0),
            hovered: RwSignal::new(None),
            pinned: RwSignal::new(None),
            step: RwSignal::new(Step::Vectors),
            saliency_target: RwSignal::new(None),
        }
    }

    /// The token whose row and column charts highlight: the hovered one, else the pinned one.
    pub fn highlighted_token(&self) -> Option<usize> {
        self.hovered.get().or(self.pinned.get())
    }

    /// The query token among `count`: the pinned one, else the hovered one, else the last.
    pub fn query_token(&self, count: usize) -> Option<usize> {
        let last = count.checked_sub(1)?;
        self.pinned
            .get()
            .or(self.hovered.get())
            .filter(|&i| i < count)
            .or(Some(last))
    }

    /// Forgets the tokens pointed at (the text changed).
    pub fn forget_tokens(&self) {
        self.pinned.set(None);
        self.hovered.set(None);
    }
}

/// The steps of the attention step-through, in order: softmax(QKᵀ/√dₖ + M)·V, then the output
/// projection and the residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The token's vector and its query, key and value.
    Vectors,
    /// Scores q·k.
    Scores,
    /// Scaled by 1/√dₖ.
    Scale,
    /// The mask.
    Mask,
    /// Softmax.
    Softmax,
    /// The weighted sum of the values.
    WeightedSum,
    /// The output projection and the residual.
    Output,
    /// The norm before the feed-forward network (add & norm).
    FeedForwardNorm,
    /// The feed-forward network's first matrix, 4× wider.
    FirstMatrix,
    /// The non-linearity: each neuron's activation.
    Activation,
    /// The second matrix back to d_model, and the residual.
    SecondMatrix,
    /// After the last block: the final norm and the prediction head.
    PredictionHead,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 12] = [
        Step::Vectors,
        Step::Scores,
        Step::Scale,
        Step::Mask,
        Step::Softmax,
        Step::WeightedSum,
        Step::Output,
        Step::FeedForwardNorm,
        Step::FirstMatrix,
        Step::Activation,
        Step::SecondMatrix,
        Step::PredictionHead,
    ];

    /// The steps of attention alone (the first seven).
    pub const ATTENTION: usize = 7;
    /// The steps of a whole block (the first eleven); the twelfth follows the last block.
    pub const BLOCK: usize = 11;

    /// Its number as the page and the link show it, from 1.
    pub fn number(self) -> usize {
        Step::ALL.iter().position(|&s| s == self).unwrap_or(0) + 1
    }

    /// The step with that number, from 1.
    pub fn from_number(number: usize) -> Option<Step> {
        Step::ALL.get(number.checked_sub(1)?).copied()
    }

    /// The step `delta` away among the first `count` steps, stopping at the first and the
    /// last of them.
    pub fn moved(self, delta: isize, count: usize) -> Step {
        let last = count.clamp(1, Step::ALL.len()) as isize - 1;
        let index = (self.number() as isize - 1 + delta).clamp(0, last);
        Step::ALL[index as usize]
    }

    /// Whether it is the last of the first `count` steps (or past them).
    pub fn is_last(self, count: usize) -> bool {
        self.number() >= count
    }

    /// The string key of its name.
    pub fn name_key(self) -> &'static str {
        match self {
            Step::Vectors => "step.name1",
            Step::Scores => "step.name2",
            Step::Scale => "step.name3",
            Step::Mask => "step.name4",
            Step::Softmax => "step.name5",
            Step::WeightedSum => "step.name6",
            Step::Output => "step.name7",
            Step::FeedForwardNorm => "step.name8",
            Step::FirstMatrix => "step.name9",
            Step::Activation => "step.name10",
            Step::SecondMatrix => "step.name11",
            Step::PredictionHead => "step.name12",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn steps_are_numbered_from_one_and_moves_stop_at_the_ends() {
        for (index, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(step.number(), index + 1);
            assert_eq!(Step::from_number(index + 1), Some(step));
        }
        assert_eq!(Step::from_number(0), None);
        assert_eq!(Step::from_number(13), None);
        assert_eq!(Step::Vectors.moved(-1, 11), Step::Vectors);
        assert_eq!(Step::Softmax.moved(2, 11), Step::Output);
        // Attention alone ends at the output; the whole block goes on to the network.
        assert_eq!(Step::Output.moved(1, Step::ATTENTION), Step::Output);
        assert!(Step::Output.is_last(Step::ATTENTION));
        assert_eq!(Step::Output.moved(1, 11), Step::FeedForwardNorm);
        assert_eq!(Step::SecondMatrix.moved(1, 11), Step::SecondMatrix);
        assert!(Step::SecondMatrix.is_last(11));
        assert!(!Step::Mask.is_last(11));
    }
}
