//! The text and what the model made of it. The text box writes the text; its tokens and trace
//! are asked for here, whenever the text or the model changes, and kept as owned answers
//! (`crate::client::Owned`) that nobody else can write. A newer text drops the request for an
//! older one that still waits.
use std::sync::Arc;

use leptos::prelude::*;

use super::{ModelState, Selection};
use crate::client::{owned_request, Owned};
use ae_messages::{
    Candidate, Interventions, LayerTrace, PageTrace, Request, Response, TokenizedText,
};

/// One token appended by clicking a candidate or sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedToken {
    /// Its position in the new text's tokens (the position it was predicted for + 1).
    pub position: usize,
    /// The candidate that was appended.
    pub candidate: Candidate,
}

/// A text's tokens, and its token count before truncation when it was too long.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    pub tokens: TokenizedText,
    pub truncated_from: Option<usize>,
}

/// A text's trace as the worker sent it.
#[derive(Debug, Clone)]
pub struct Traced {
    /// The id the worker keeps the trace under (for other layers' internals).
    pub id: u32,
    pub trace: Arc<PageTrace>,
    /// The internals of the layer selected when it was asked for.
    pub layer: Arc<LayerTrace>,
    /// How long the worker computed, and how long the page took to read the answer.
    pub compute_ms: f64,
    pub read_ms: f64,
    /// Tokens whose numbers the worker kept from the trace before, which this text extends.
    pub kept_tokens: usize,
}

/// How long a trace took, and how much of it was kept from the trace before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceTiming {
    /// The worker's time, and the page's to read the answer.
    pub compute_ms: f64,
    pub read_ms: f64,
    /// Tokens whose numbers were kept (0: traced from scratch), of `tokens` in all.
    pub kept_tokens: usize,
    pub tokens: usize,
}

/// The text, its tokens and its trace.
#[derive(Clone, Copy)]
pub struct TextState {
    /// The input text.
    pub text: RwSignal<String>,
    /// The text came from the link: the first model keeps it instead of its example sentence.
    pub from_link: RwSignal<bool>,
    /// Tokens appended by clicking candidates or sampling, oldest first.
    pub generated: RwSignal<Vec<GeneratedToken>>,
    /// The lab's interventions: the trace (and every analysis of it) is the intervened model's.
    pub lab: RwSignal<Interventions>,
    /// The lab's second text, compared with this one; empty: no comparison.
    pub second: RwSignal<String>,
    tokens: Owned<(u32, String, Interventions), Tokens>,
    traced: Owned<(u32, String, Interventions), Traced>,
    /// Another layer's internals than the one the trace came with.
    other_layer: Owned<(u32, usize), Arc<LayerTrace>>,
}

impl TextState {
    /// Empty text; asks for tokens and trace of every non-empty text while a model is loaded.
    pub fn new(model: ModelState, selection: Selection) -> Self {
        let text = RwSignal::new(String::new());
        let lab = RwSignal::new(Interventions::default());
        // The text and the lab, for the model loaded; empty text asks for nothing.
        let wanted = move || {
            let loaded = model.loaded()?;
            let text = text.get();
            if text.trim().is_empty() {
                return None;
            }
            // An encoder–decoder's text is its source, tokenized as trained; its lab goes with
            // the translation's requests.
            let lab = match model.is_encoder_decoder() {
                true => Interventions::default(),
                false => lab.with(|lab| lab.for_model(false)),
            };
            Some((loaded, text, lab))
        };
        let tokens = owned_request(
            wanted,
            |(_, text, lab)| Request::Tokenize {
                text: text.clone(),
                lab: lab.clone(),
            },
            |answer| match answer.response {
                Response::Tokens {
                    tokens,
                    truncated_from,
                } => Some(Tokens {
                    tokens,
                    truncated_from,
                }),
                _ => None,
            },
        );
        let layer = selection.layer;
        // An encoder–decoder's trace is of a source and a target (`TranslationState`).
        let one_text = move || wanted().filter(|_| !model.is_encoder_decoder());
        let traced = owned_request(
            one_text,
            move |(_, text, lab)| Request::Trace {
                text: text.clone(),
                layer: layer.get_untracked(),
                lab: lab.clone(),
            },
            |answer| match answer.response {
                Response::Trace {
                    trace,
                    layer_trace,
                    kept_tokens,
                    ..
                } => Some(Traced {
                    id: answer.id,
                    trace: Arc::new(*trace),
                    layer: Arc::new(*layer_trace),
                    compute_ms: answer.compute_ms,
                    read_ms: answer.read_ms,
                    kept_tokens,
                }),
                _ => None,
            },
        );
        let other_layer = owned_request(
            move || {
                let layer = layer.get();
                let traced = traced.value()?;
                (traced.layer.layer != layer).then_some((traced.id, layer))
            },
            |&(trace, layer)| Request::Layer { trace, layer },
            |answer| match answer.response {
                Response::Layer { layer_trace, .. } => Some(Arc::new(*layer_trace)),
                _ => None,
            },
        );
        TextState {
            text,
            from_link: RwSignal::new(false),
            generated: RwSignal::new(Vec::new()),
            lab,
            second: RwSignal::new(String::new()),
            tokens,
            traced,
            other_layer,
        }
    }

    /// Reads the text's tokens without cloning them (tracked): the latest, kept while a newer
    /// text's are on their way.
    pub fn with_tokens<R>(&self, f: impl FnOnce(Option<&TokenizedText>) -> R) -> R {
        self.tokens.with_latest(|t| f(t.map(|t| &t.tokens)))
    }

    /// How many tokens the text has (tracked); 0 before it is tokenized.
    pub fn token_count(&self) -> usize {
        self.with_tokens(|t| t.map_or(0, |t| t.ids.len()))
    }

    /// The token count before truncation, when the text was too long (tracked).
    pub fn truncated_from(&self) -> Option<usize> {
        self.tokens
            .with_latest(|t| t.and_then(|t| t.truncated_from))
    }

    /// The current trace (tracked): the latest, kept while a newer text's is on its way.
    pub fn page_trace(&self) -> Option<Arc<PageTrace>> {
        self.traced.with_latest(|t| t.map(|t| Arc::clone(&t.trace)))
    }

    /// The traced tokens' display strings (tracked); empty before the first trace.
    pub fn traced_tokens(&self) -> Vec<String> {
        self.page_trace()
            .map(|t| t.tokens.clone())
            .unwrap_or_default()
    }

    /// Whether there is a trace (tracked).
    pub fn is_traced(&self) -> bool {
        self.traced.with_latest(|t| t.is_some())
    }

    /// Whether the trace of the current text (and lab) is there, not an earlier text's
    /// (tracked).
    pub fn is_traced_now(&self) -> bool {
        self.traced.value().is_some()
    }

    /// What an encoder–decoder's requests take of the lab: its switched-off heads (tracked).
    pub fn lab_for_pairs(&self) -> Interventions {
        self.lab.with(|lab| lab.for_model(true))
    }

    /// The trace's id in the worker (tracked), which changes with every new trace.
    pub fn trace_id(&self) -> Option<u32> {
        self.traced.with_latest(|t| t.map(|t| t.id))
    }

    /// How the current text's trace was made (tracked); `None` while it is on its way.
    pub fn timing(&self) -> Option<TraceTiming> {
        self.traced.value().map(|t| TraceTiming {
            compute_ms: t.compute_ms,
            read_ms: t.read_ms,
            kept_tokens: t.kept_tokens,
            tokens: t.trace.input_ids.len(),
        })
    }

    /// `layer`'s attention internals from the current trace (tracked), `None` while they are
    /// on their way.
    pub fn layer_trace(&self, layer: usize) -> Option<Arc<LayerTrace>> {
        let with_trace = self.traced.with_latest(|t| {
            t.filter(|t| t.layer.layer == layer)
                .map(|t| Arc::clone(&t.layer))
        });
        with_trace.or_else(|| self.other_layer.value().filter(|l| l.layer == layer))
    }

    /// Appends a predicted token to the text and records it in the generation timeline.
    pub fn append_generated(&self, candidate: Candidate) {
        let position = untrack(|| self.token_count());
        self.text.update(|text| text.push_str(&candidate.text));
        self.generated.update(|generated| {
            generated.push(GeneratedToken {
                position,
                candidate,
            })
        });
    }
}
