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
    pub step: RwSignal<usize>,
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
            step: RwSignal::new(0),
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
