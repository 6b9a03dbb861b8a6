//! An encoder–decoder's side of the page: the target so far (the source is the text box's
//! text), which attention is shown, and the trace of (source, target), asked for whenever the
//! model, the source, the target or the lab's switched-off heads change and kept as an owned
//! answer.
use std::sync::Arc;

use leptos::prelude::*;

use super::{ModelState, TextState};
use crate::client::{owned_request, Owned};
use ae_messages::{
    AttentionKind, EncoderDecoderTrace, Generation, Interventions, Request, Response,
};

/// (model generation, source, target, lab): what a translation trace depends on.
pub type PairKey = (u32, String, String, Interventions);

/// The target, the shown attention and the pair's trace.
#[derive(Clone, Copy)]
pub struct TranslationState {
    /// The target so far (without the decoder start token, which the engine adds).
    pub target: RwSignal<String>,
    /// Which attention the heatmap shows.
    pub kind: RwSignal<AttentionKind>,
    /// Layer and head of the shown attention (clamped to the stack's).
    pub layer: RwSignal<usize>,
    pub head: RwSignal<usize>,
    /// The pinned target position (its cross-attention and saliency are shown).
    pub pinned: RwSignal<Option<usize>>,
    /// The last written target, and how many of its tokens are shown while it plays.
    pub written: RwSignal<Option<Generation>>,
    pub revealed: RwSignal<Option<usize>>,
    traced: Owned<PairKey, Arc<EncoderDecoderTrace>>,
}

impl TranslationState {
    /// Asks for the trace of (text, target) while an encoder–decoder is loaded.
    pub fn new(model: ModelState, text: TextState) -> Self {
        let target = RwSignal::new(String::new());
        let traced = owned_request(
            move || {
                let generation = model.loaded()?;
                let source = text.text.get();
                (model.is_encoder_decoder() && !source.trim().is_empty())
                    .then(|| (generation, source, target.get(), text.lab_for_pairs()))
            },
            |(_, source, target, lab)| Request::TranslationTrace {
                source: source.clone(),
                target: target.clone(),
                lab: lab.clone(),
            },
            |answer| match answer.response {
                Response::TranslationTrace { trace } => Some(Arc::new(*trace)),
                _ => None,
            },
        );
        TranslationState {
            target,
            kind: RwSignal::new(AttentionKind::Cross),
            layer: RwSignal::new(0),
            head: RwSignal::new(0),
            pinned: RwSignal::new(None),
            written: RwSignal::new(None),
            revealed: RwSignal::new(None),
            traced,
        }
    }

    /// The latest trace (tracked), kept while a newer one is on its way.
    pub fn trace(&self) -> Option<Arc<EncoderDecoderTrace>> {
        self.traced.with_latest(|t| t.cloned())
    }

    /// The current request's failure, if it failed (tracked).
    pub fn failure(&self) -> Option<crate::client::Failure> {
        self.traced.current().and_then(Result::err)
    }
}
