//! How the page is shown: the panel, the embedding and its locks, the language, the colours, the
//! page width, and the banners (notices and the last error).
use leptos::prelude::*;

use super::Problem;
use crate::i18n::{trf, Lang};

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
    /// An encoder–decoder's source, target, three attentions and written target.
    Translation,
    /// The feed-forward network's neurons (Ecco), their NMF factors and the residual stream.
    Neurons,
    /// Ecco's rankings grid across layers and positions, and the text's surprisal.
    Rankings,
    /// Interventions: heads switched off, masks removed, with the predictions before and after.
    Lab,
    /// Every weight matrix of the model, with its share of the parameters.
    Anatomy,
    /// Attention over a few vectors the student types: every intermediate, and why √dₖ.
    Sandbox,
}

impl Panel {
    /// Every panel, in navigation order.
    pub const ALL: [Panel; 11] = [
        Panel::StepThrough,
        Panel::Heatmaps,
        Panel::Positions,
        Panel::Predictions,
        Panel::Saliency,
        Panel::Translation,
        Panel::Neurons,
        Panel::Rankings,
        Panel::Lab,
        Panel::Anatomy,
        Panel::Sandbox,
    ];

    /// Whether the panel has something to show for an encoder–decoder (`true`) or a model of
    /// one text (`false`).
    pub fn offered_for(self, encoder_decoder: bool) -> bool {
        match self {
            Panel::Translation => encoder_decoder,
            Panel::Anatomy | Panel::Sandbox => true,
            _ => !encoder_decoder,
        }
    }

    /// The tab label, in the page's language.
    pub fn label(self) -> String {
        crate::i18n::tr(match self {
            Panel::StepThrough => "panel.step",
            Panel::Heatmaps => "panel.heatmaps",
            Panel::Positions => "panel.positions",
            Panel::Predictions => "panel.predictions",
            Panel::Saliency => "panel.saliency",
            Panel::Translation => "panel.translation",
            Panel::Neurons => "panel.neurons",
            Panel::Rankings => "panel.rankings",
            Panel::Lab => "panel.lab",
            Panel::Anatomy => "panel.anatomy",
            Panel::Sandbox => "panel.sandbox",
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
            Panel::Translation => "translation",
            Panel::Neurons => "neurons",
            Panel::Rankings => "rankings",
            Panel::Lab => "lab",
            Panel::Anatomy => "anatomy",
            Panel::Sandbox => "sandbox",
        }
    }
}

/// The lesson open and its step, as a link names them: `tour=N`, or `lesson=PATH` with
/// `lesson_step=N` (counted from 1 in the link, from 0 here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LessonLink {
    Tour { step: usize },
    File { path: String, step: usize },
}

impl LessonLink {
    /// The step shown, from 0.
    pub fn step(&self) -> usize {
        match self {
            LessonLink::Tour { step } | LessonLink::File { step, .. } => *step,
        }
    }

    /// The same lesson at `step`.
    pub fn at(&self, step: usize) -> LessonLink {
        match self {
            LessonLink::Tour { .. } => LessonLink::Tour { step },
            LessonLink::File { path, .. } => LessonLink::File {
                path: path.clone(),
                step,
            },
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

/// A string-table message with its values, worded when shown (so in the current language).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub key: &'static str,
    pub values: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(key: &'static str, values: &[(&'static str, &dyn std::fmt::Display)]) -> Self {
        Message {
            key,
            values: values
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect(),
        }
    }

    /// The message in the page's language (tracked).
    pub fn describe(&self) -> String {
        let values: Vec<(&str, &dyn std::fmt::Display)> = self
            .values
            .iter()
            .map(|(name, value)| (*name, value as &dyn std::fmt::Display))
            .collect();
        trf(self.key, &values)
    }
}

/// How the page is shown.
#[derive(Clone, Copy)]
pub struct ViewState {
    /// The visible panel.
    pub panel: RwSignal<Panel>,
    /// Embedding options from the link.
    pub embedding: RwSignal<Embedding>,
    /// The page's language.
    pub lang: RwSignal<Lang>,
    /// The language came from the link: a lesson opened by the same link keeps it.
    pub lang_from_link: RwSignal<bool>,
    /// Light or dark as chosen by the link or the toggle; `None` follows the system setting.
    pub theme_choice: RwSignal<Option<ThemeChoice>>,
    /// Whether the system asks for dark colours (`prefers-color-scheme`).
    pub system_dark: RwSignal<bool>,
    /// The page's width in CSS pixels, for sizing charts.
    pub viewport_width: RwSignal<f64>,
    /// Notices for the user (e.g. "the Hub is unreachable, opened the offline model").
    pub notices: RwSignal<Vec<Message>>,
    /// The last error.
    pub error: RwSignal<Option<Problem>>,
    /// The lesson open (the guided tour or a lesson file) and its step.
    pub lesson: RwSignal<Option<LessonLink>>,
}

impl ViewState {
    pub fn new() -> Self {
        ViewState {
            panel: RwSignal::new(Panel::StepThrough),
            embedding: RwSignal::new(Embedding::default()),
            lang: RwSignal::new(browser_language()),
            lang_from_link: RwSignal::new(false),
            theme_choice: RwSignal::new(None),
            system_dark: RwSignal::new(system_prefers_dark()),
            viewport_width: RwSignal::new(viewport_width()),
            notices: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
            lesson: RwSignal::new(None),
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
    pub fn chart_theme(&self) -> &'static ae_charts::Theme {
        match self.theme() {
            ThemeChoice::Light => &ae_charts::Theme::LIGHT,
            ThemeChoice::Dark => &ae_charts::Theme::DARK,
        }
    }

    /// Whether a control is locked by the embedding.
    pub fn locked(&self, lock: Lock) -> bool {
        self.embedding.with(|e| e.locked.contains(&lock))
    }

    /// The panels the embedding allows (all when it names none); which of them the model
    /// offers is `AppState::offered_panels`.
    pub fn embedded_panels(&self) -> Vec<Panel> {
        self.embedding.with(|e| {
            if e.panels.is_empty() {
                Panel::ALL.to_vec()
            } else {
                e.panels.clone()
            }
        })
    }

    /// Adds a notice (several link problems can be reported together).
    pub fn add_notice(&self, message: Message) {
        self.notices.update(|notices| notices.push(message));
    }

    /// Shows a problem in the error banner.
    pub fn report(&self, problem: impl Into<Problem>) {
        self.error.set(Some(problem.into()));
    }
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
