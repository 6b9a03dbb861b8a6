//! The shared state every panel reads: one struct of signals, provided once at the root.
use std::sync::Arc;

use leptos::prelude::*;

use super::i18n::Lang;
use super::loader::ModelSource;
use ae_charts::{GridOptions, Theme};
use ae_messages::ModelCard;
use ae_messages::{
    Candidate, LayerTrace, LogitLens, PageTrace, PositionalEncodings, Predictions, RotaryView,
    Saliency, SamplingSettings, TokenizedText,
};

/// The panels, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// Q/K/V → scores → softmax → weighted sum, step by step.
    StepThrough,
    /// Per-head heatmaps and the layers × heads overview.
    Heatmaps,
    /// Sinusoidal and learned positional encodings.
    Positions,
    /// Next-token or [MASK] predictions.
    Predictions,
    /// Gradient×input saliency.
    Saliency,
}

impl Panel {
    /// Every panel, in navigation order.
    pub const ALL: [Panel; 5] = [
        Panel::StepThrough,
        Panel::Heatmaps,
        Panel::Positions,
        Panel::Predictions,
        Panel::Saliency,
    ];

    /// The tab label, in the page's language.
    pub fn label(self) -> String {
        super::i18n::tr(match self {
            Panel::StepThrough => "panel.step",
            Panel::Heatmaps => "panel.heatmaps",
            Panel::Positions => "panel.positions",
            Panel::Predictions => "panel.predictions",
            Panel::Saliency => "panel.saliency",
        })
    }

    /// A stable id for URLs and tests.
    pub fn id(self) -> &'static str {
        match self {
            Panel::StepThrough => "step",
            Panel::Heatmaps => "heatmaps",
            Panel::Positions => "positions",
            Panel::Predictions => "predictions",
            Panel::Saliency => "saliency",
        }
    }
}

/// Controls a teacher can lock in an embedded view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The model picker.
    Model,
    /// The text box and example sentences.
    Text,
    /// The layer picker.
    Layer,
    /// The head picker.
    Head,
}

impl Lock {
    /// Every lock, with its name in the link.
    pub const ALL: [(Lock, &'static str); 4] = [
        (Lock::Model, "model"),
        (Lock::Text, "text"),
        (Lock::Layer, "layer"),
        (Lock::Head, "head"),
    ];
}

/// How the page is embedded (`embed=1`, `panels=`, `lock=` in the link).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embedding {
    /// Compact view without the site header.
    pub compact: bool,
    /// Only these panels' tabs (all when empty).
    pub panels: Vec<Panel>,
    /// Controls hidden or fixed.
    pub locked: Vec<Lock>,
}

/// The worker's answer to a predictions request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionResult {
    /// Next-token candidates or [MASK] fills.
    pub predictions: Predictions,
    /// Decoders: how many of the most probable tokens top-k/top-p leave drawable.
    pub survivors: Option<usize>,
    /// The token drawn, when the request asked for a draw.
    pub sampled: Option<Candidate>,
    /// Whether the trace's logits were re-scored instead of running the model.
    pub reused_logits: bool,
}

/// One token appended by clicking a candidate or sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedToken {
    /// Its position in the new text's tokens (the position it was predicted for + 1).
    pub position: usize,
    /// The candidate that was appended.
    pub candidate: Candidate,
}

/// Download progress of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The file being fetched.
    pub file: String,
    /// Bytes received so far.
    pub loaded: f64,
    /// Content-Length, when the server sent one.
    pub total: Option<f64>,
    /// Seconds since the download started.
    pub elapsed: f64,
}

/// Where model loading stands.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadStatus {
    /// Nothing requested yet.
    Idle,
    /// Fetching a file (or reading it from the cache).
    Downloading(Progress),
    /// All files are here; the worker is building the model.
    Building,
    /// The model is ready.
    Ready,
    /// Loading failed or was cancelled; the message says why.
    Failed(String),
}

/// The one place shared state lives.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The loaded model's card.
    pub model: RwSignal<Option<ModelCard>>,
    /// Where the loaded (or loading) model comes from; `None` for local files.
    pub source: RwSignal<Option<ModelSource>>,
    /// How the model's origin is shown to the user.
    pub model_source: RwSignal<String>,
    /// Size of the loaded model.safetensors in bytes.
    pub model_bytes: RwSignal<Option<usize>>,
    /// The worker's wasm memory after the model loaded, in bytes.
    pub worker_memory: RwSignal<Option<usize>>,
    /// How long the worker took for the current trace.
    pub trace_ms: RwSignal<Option<f64>>,
    /// How long the page took to read the current trace out of the worker's message (copying
    /// its arrays into the page's wasm memory); `None` while a new trace is on its way.
    pub trace_read_ms: RwSignal<Option<f64>>,
    /// Bumped to reload the current source (after the worker was restarted).
    pub reload: RwSignal<u32>,
    /// Model loading progress.
    pub load: RwSignal<LoadStatus>,
    /// A notice for the user (e.g. "the Hub is unreachable, opened the offline model").
    pub notice: RwSignal<Option<String>>,
    /// The last error, shown in the page.
    pub error: RwSignal<Option<String>>,
    /// The input text.
    pub text: RwSignal<String>,
    /// The text came from the link: the first model keeps it instead of its example sentence.
    pub text_from_link: RwSignal<bool>,
    /// The text's tokens (after truncation).
    pub tokens: RwSignal<Option<TokenizedText>>,
    /// Token count before truncation, when the text was too long.
    pub truncated_from: RwSignal<Option<usize>>,
    /// The current trace.
    pub trace: RwSignal<Option<Arc<PageTrace>>>,
    /// One layer's attention internals from the current trace: the selected layer's, or the
    /// previously selected one's while the worker sends the new one.
    pub layer_trace: RwSignal<Option<Arc<LayerTrace>>>,
    /// Whether the worker is computing.
    pub busy: RwSignal<bool>,
    /// Selected layer.
    pub layer: RwSignal<usize>,
    /// Selected head.
    pub head: RwSignal<usize>,
    /// The token under the pointer or focus.
    pub hovered: RwSignal<Option<usize>>,
    /// The token clicked to pin it.
    pub pinned: RwSignal<Option<usize>>,
    /// Step of the attention step-through.
    pub step: RwSignal<usize>,
    /// The visible panel.
    pub panel: RwSignal<Panel>,
    /// How the heatmaps show attention (head average, hidden special tokens, top share).
    pub heatmap_options: RwSignal<GridOptions>,
    /// The page's width in CSS pixels, for sizing charts.
    pub viewport_width: RwSignal<f64>,
    /// Temperature, top-k and top-p for predictions and sampling.
    pub sampling: RwSignal<SamplingSettings>,
    /// Seed of the first draw; the n-th generated token uses seed + n.
    pub seed: RwSignal<u64>,
    /// The latest predictions for the current text.
    pub predictions: RwSignal<Option<PredictionResult>>,
    /// The latest logit lens for the current text.
    pub lens: RwSignal<Option<LogitLens>>,
    /// The latest saliency for the current text and target.
    pub saliency: RwSignal<Option<Saliency>>,
    /// The prediction whose saliency is shown: (position, token id); `None` = the top one.
    pub saliency_target: RwSignal<Option<(usize, u32)>>,
    /// Tokens appended by clicking candidates or sampling, oldest first.
    pub generated: RwSignal<Vec<GeneratedToken>>,
    /// Embedding options from the link.
    pub embedding: RwSignal<Embedding>,
    /// The latest positional encodings (sinusoidal and learned) for the positions panel.
    pub encodings: RwSignal<Option<Arc<PositionalEncodings>>>,
    /// The latest RoPE view (rotary models) for the positions panel.
    pub rotary: RwSignal<Option<Arc<RotaryView>>>,
    /// The page's language.
    pub lang: RwSignal<Lang>,
    /// Light or dark as chosen by the link or the toggle; `None` follows the system setting.
    pub theme_choice: RwSignal<Option<ThemeChoice>>,
    /// Whether the system asks for dark colours (`prefers-color-scheme`).
    pub system_dark: RwSignal<bool>,
}

/// Light or dark colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeChoice {
    /// Dark text on light backgrounds.
    Light,
    /// Light text on dark backgrounds.
    Dark,
}

impl ThemeChoice {
    /// The name in links and in `<html data-theme>`.
    pub fn id(self) -> &'static str {
        match self {
            ThemeChoice::Light => "light",
            ThemeChoice::Dark => "dark",
        }
    }
}

impl AppState {
    /// Fresh state with an example sentence.
    pub fn new() -> Self {
        AppState {
            model: RwSignal::new(None),
            source: RwSignal::new(None),
            model_source: RwSignal::new(String::new()),
            model_bytes: RwSignal::new(None),
            worker_memory: RwSignal::new(None),
            trace_ms: RwSignal::new(None),
            trace_read_ms: RwSignal::new(None),
            reload: RwSignal::new(0),
            load: RwSignal::new(LoadStatus::Idle),
            notice: RwSignal::new(None),
            error: RwSignal::new(None),
            text: RwSignal::new(String::new()),
            text_from_link: RwSignal::new(false),
            tokens: RwSignal::new(None),
            truncated_from: RwSignal::new(None),
            trace: RwSignal::new(None),
            layer_trace: RwSignal::new(None),
            busy: RwSignal::new(false),
            layer: RwSignal::new(0),
            head: RwSignal::new(0),
            hovered: RwSignal::new(None),
            pinned: RwSignal::new(None),
            step: RwSignal::new(0),
            panel: RwSignal::new(Panel::StepThrough),
            heatmap_options: RwSignal::new(GridOptions::default()),
            viewport_width: RwSignal::new(viewport_width()),
            sampling: RwSignal::new(SamplingSettings {
                temperature: 1.0,
                top_k: 40,
                top_p: 0.9,
            }),
            seed: RwSignal::new(42),
            predictions: RwSignal::new(None),
            lens: RwSignal::new(None),
            saliency: RwSignal::new(None),
            saliency_target: RwSignal::new(None),
            generated: RwSignal::new(Vec::new()),
            encodings: RwSignal::new(None),
            rotary: RwSignal::new(None),
            embedding: RwSignal::new(Embedding::default()),
            lang: RwSignal::new(browser_language()),
            theme_choice: RwSignal::new(None),
            system_dark: RwSignal::new(system_prefers_dark()),
        }
    }

    /// The colours in use (tracked): the chosen ones, else the system's.
    pub fn theme(&self) -> ThemeChoice {
        self.theme_choice
            .get()
            .unwrap_or(if self.system_dark.get() {
                ThemeChoice::Dark
            } else {
                ThemeChoice::Light
            })
    }

    /// The chart colours for the theme in use (tracked).
    pub fn chart_theme(&self) -> &'static Theme {
        match self.theme() {
            ThemeChoice::Light => &Theme::LIGHT,
            ThemeChoice::Dark => &Theme::DARK,
        }
    }

    /// Whether there is a trace and the model can predict (it has a prediction head), tracked.
    pub fn has_logits(&self) -> bool {
        self.trace.with(Option::is_some)
            && self
                .model
                .with(|card| card.as_ref().is_some_and(|card| card.has_prediction_head))
    }

    /// The selected layer's attention internals (tracked), `None` while they are on their way.
    pub fn selected_layer_trace(&self) -> Option<Arc<LayerTrace>> {
        let layer = self.layer.get();
        self.layer_trace.get().filter(|l| l.layer == layer)
    }

    /// Forgets the trace (the text was emptied, or another model is loading).
    pub fn clear_trace(&self) {
        self.trace.set(None);
        self.layer_trace.set(None);
    }

    /// Forgets the predictions, logit lens and saliency of an earlier text or model.
    pub fn clear_analyses(&self) {
        self.predictions.set(None);
        self.lens.set(None);
        self.saliency.set(None);
    }

    /// Whether a control is locked by the embedding.
    pub fn locked(&self, lock: Lock) -> bool {
        self.embedding.with(|e| e.locked.contains(&lock))
    }

    /// The panels offered: the embedding's choice, else all.
    pub fn offered_panels(&self) -> Vec<Panel> {
        self.embedding.with(|e| {
            if e.panels.is_empty() {
                Panel::ALL.to_vec()
            } else {
                e.panels.clone()
            }
        })
    }

    /// The token whose row and column charts highlight: the hovered one, else the pinned one.
    pub fn highlighted_token(&self) -> Option<usize> {
        self.hovered.get().or(self.pinned.get())
    }

    /// The query token: the pinned one, else the hovered one, else the last token.
    pub fn query_token(&self) -> Option<usize> {
        let count = self.tokens.with(|t| t.as_ref().map_or(0, |t| t.ids.len()));
        if count == 0 {
            return None;
        }
        self.pinned
            .get()
            .or(self.hovered.get())
            .filter(|&i| i < count)
            .or(Some(count - 1))
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends a predicted token to the text and records it in the generation timeline.
pub fn append_generated(state: AppState, candidate: Candidate) {
    let position = state
        .tokens
        .with_untracked(|t| t.as_ref().map_or(0, |t| t.ids.len()));
    state.text.update(|text| text.push_str(&candidate.text));
    state.generated.update(|generated| {
        generated.push(GeneratedToken {
            position,
            candidate,
        })
    });
}

/// The window's inner width in CSS pixels (1024 if unknown).
pub fn viewport_width() -> f64 {
    web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|w| w.as_f64())
        .unwrap_or(1024.0)
}

/// Whether the page is phone-sized (narrower than 700 CSS pixels).
pub fn small_screen() -> bool {
    viewport_width() < 700.0
}

/// The browser's preferred language if it is one of ours, else English.
fn browser_language() -> Lang {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return Lang::En;
    };
    navigator
        .languages()
        .iter()
        .filter_map(|l| l.as_string())
        .chain(navigator.language())
        .find_map(|code| Lang::from_code(&code))
        .unwrap_or(Lang::En)
}

/// The system's `prefers-color-scheme: dark`.
pub fn dark_query() -> Option<web_sys::MediaQueryList> {
    web_sys::window()?
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
}

fn system_prefers_dark() -> bool {
    dark_query().is_some_and(|q| q.matches())
}

/// The shared state, from any component.
pub fn use_state() -> AppState {
    expect_context::<AppState>()
}
