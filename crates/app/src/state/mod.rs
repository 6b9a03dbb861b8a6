//! The page's state, in slices with clear writers, provided once at the root:
//! - [`ModelState`]: the model and its loading (written by `crate::loading` only);
//! - [`TextState`]: the text (the text box writes it), its tokens and trace (owned answers);
//! - [`Selection`]: layer, head, hovered/pinned token, step (controls and charts);
//! - [`ViewState`]: panel, embedding and locks, language, theme, banners;
//! - [`Settings`]: sampling, seed, heatmap options;
//! - [`TranslationState`]: an encoder–decoder's target, shown attention and pair trace.
//!
//! A panel's own analyses (predictions, saliency, encodings …) are not here: each panel owns
//! the request for what it shows (`crate::client::owned_request`).
mod model;
mod selection;
mod settings;
mod text;
mod translation;
mod view;

use std::sync::Arc;

use leptos::prelude::*;

pub use model::{LoadStatus, ModelState, ModelWriter, Progress};
pub use selection::{Selection, Step};
pub use settings::{HeadSummary, InductionRun, Settings};
pub use text::{GeneratedToken, TextState, TraceTiming};
pub use translation::TranslationState;
pub use view::{
    dark_query, small_screen, viewport_width, Embedding, LessonLink, Lock, Message, Panel,
    ThemeChoice, ViewState,
};

use crate::client::{self, Failure};
use crate::sources::FetchError;
use ae_messages::LayerTrace;

/// Something that went wrong, kept as a value and worded when shown (so in the current
/// language, also after a language switch).
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A request to the worker failed.
    Request(Failure),
    /// A download failed.
    Fetch(FetchError),
    /// Anything else, as a string-table message.
    Message(Message),
}

impl Problem {
    /// The problem in the page's language (tracked).
    pub fn describe(&self) -> String {
        match self {
            Problem::Request(failure) => failure.describe(),
            Problem::Fetch(error) => error.describe(),
            Problem::Message(message) => message.describe(),
        }
    }
}

impl From<Failure> for Problem {
    fn from(failure: Failure) -> Self {
        Problem::Request(failure)
    }
}

impl From<FetchError> for Problem {
    fn from(error: FetchError) -> Self {
        Problem::Fetch(error)
    }
}

impl From<Message> for Problem {
    fn from(message: Message) -> Self {
        Problem::Message(message)
    }
}

/// Every slice, for components that read several.
#[derive(Clone, Copy)]
pub struct AppState {
    pub model: ModelState,
    pub text: TextState,
    pub translation: TranslationState,
    pub selection: Selection,
    pub view: ViewState,
    pub settings: Settings,
    /// The worker client's status (busy, restarts, failures).
    pub client: client::Status,
}

impl AppState {
    /// The panels this model and the embedding offer (tracked): an encoder–decoder has its
    /// translation panel; the others read one text.
    pub fn offered_panels(&self) -> Vec<Panel> {
        let encoder_decoder = self.model.is_encoder_decoder();
        self.view
            .embedded_panels()
            .into_iter()
            .filter(|panel| panel.offered_for(encoder_decoder))
            .collect()
    }

    /// The panel shown: the chosen one, or the first this model offers when it offers not that
    /// one (an encoder–decoder does not offer the one-text panels), tracked.
    pub fn shown_panel(&self) -> Panel {
        let offered = self.offered_panels();
        let chosen = self.view.panel.get();
        if offered.contains(&chosen) {
            chosen
        } else {
            offered.first().copied().unwrap_or(chosen)
        }
    }

    /// Whether there is a trace and the model can predict (it has a prediction head), tracked.
    pub fn has_logits(&self) -> bool {
        self.text.is_traced() && self.model.read(false, |card| card.has_prediction_head)
    }

    /// The selected layer's attention internals (tracked), `None` while they are on their way.
    pub fn selected_layer_trace(&self) -> Option<Arc<LayerTrace>> {
        self.text.layer_trace(self.selection.layer.get())
    }

    /// The query token: the pinned one, else the hovered one, else the last token (tracked).
    pub fn query_token(&self) -> Option<usize> {
        self.selection.query_token(self.text.token_count())
    }
}

/// The shared state, from any component.
pub fn use_state() -> AppState {
    expect_context::<AppState>()
}
