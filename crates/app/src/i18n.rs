//! English and Simplified Chinese: every string the page shows lives in `lang/en.json` and
//! `lang/zh.json` under the same keys (`tests/strings.rs` checks that the tables match and that
//! every key used here exists). `{name}` in a string is filled by [`trf`].
//!
//! The page rebuilds its views when the language changes (see `ui::App`), so components read the
//! current language once, untracked.
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Every language, in menu order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The code used in links and in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    /// The language's own name, for the menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }

    /// Reads a link parameter or a browser language ("zh", "zh-CN", "zh-Hans", "en-GB" …).
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::Zh)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

thread_local! {
    static CURRENT: Cell<Lang> = const { Cell::new(Lang::En) };
}

/// Sets the language the next views are built in.
pub fn set_current(lang: Lang) {
    CURRENT.with(|c| c.set(lang));
}

/// The language views are being built in.
pub fn current() -> Lang {
    CURRENT.with(|c| c.get())
}

fn table(lang: Lang) -> &'static HashMap<String, String> {
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    static ZH: OnceLock<HashMap<String, String>> = OnceLock::new();
    // Both files are checked to parse by tests/strings.rs, so an empty table never ships.
    match lang {
        Lang::En => EN
            .get_or_init(|| serde_json::from_str(include_str!("lang/en.json")).unwrap_or_default()),
        Lang::Zh => ZH
            .get_or_init(|| serde_json::from_str(include_str!("lang/zh.json")).unwrap_or_default()),
    }
}

/// The string `key` in the current language (English if the table lacks it, else the key).
pub fn tr(key: &str) -> String {
    table(current())
        .get(key)
        .or_else(|| table(Lang::En).get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// The string `key` with each `{name}` replaced by its value.
pub fn trf(key: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut text = tr(key);
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

/// An engine or worker error in the current language. A damaged file's own description
/// (`what`) quotes the file and stays as the engine wrote it.
pub fn describe_error(error: &ae_messages::EngineError) -> String {
    use ae_messages::{EngineError as E, ModelFile, Work};
    match error {
        E::TextEmpty => tr("error.text_empty"),
        E::TextTooLong { tokens, max } => {
            trf("error.text_too_long", &[("tokens", tokens), ("max", max)])
        }
        E::NoMask { mask } => trf("error.no_mask", &[("mask", mask)]),
        E::NoMaskInVocabulary => tr("error.no_mask_in_vocabulary"),
        E::TokenOutOfVocabulary { id, vocab } => trf(
            "error.token_out_of_vocabulary",
            &[("id", id), ("vocab", vocab)],
        ),
        E::TargetOutOfVocabulary { id, vocab } => trf(
            "error.target_out_of_vocabulary",
            &[("id", id), ("vocab", vocab)],
        ),
        E::BadTemperature { temperature } => {
            trf("error.bad_temperature", &[("temperature", temperature)])
        }
        E::BadSampling { top_k, top_p } => {
            trf("error.bad_sampling", &[("top_k", top_k), ("top_p", top_p)])
        }
        E::PositionOutOfRange { position, tokens } => trf(
            "error.position_out_of_range",
            &[("position", position), ("tokens", tokens)],
        ),
        E::UnsupportedArchitecture { model_type, class } => trf(
            "error.unsupported_architecture",
            &[("model_type", model_type), ("class", class)],
        ),
        E::DamagedFile { file, what } => {
            let file = match file {
                ModelFile::Config => "config.json".to_string(),
                ModelFile::Tokenizer => "tokenizer.json".to_string(),
                ModelFile::Weights => "model.safetensors".to_string(),
                ModelFile::Gguf => tr("error.gguf_file"),
            };
            trf("error.damaged_file", &[("file", &file), ("what", what)])
        }
        E::CannotRead { path, reason } => {
            trf("error.cannot_read", &[("path", path), ("reason", reason)])
        }
        E::NoPredictionHead { architecture } => trf(
            "error.no_prediction_head",
            &[("architecture", architecture)],
        ),
        E::NoModel => tr("error.no_model"),
        E::OutOfMemory {
            work,
            tokens,
            gigabytes,
            longest,
        } => {
            let key = match work {
                Work::Trace => "error.out_of_memory_trace",
                Work::Saliency => "error.out_of_memory_saliency",
            };
            let gigabytes = format!("{gigabytes:.1}");
            trf(
                key,
                &[
                    ("tokens", tokens),
                    ("gigabytes", &gigabytes),
                    ("longest", longest),
                ],
            )
        }
        E::TraceGone => tr("error.trace_gone"),
        E::LayerOutOfRange { layer, layers } => trf(
            "error.layer_out_of_range",
            &[("layer", &(layer + 1)), ("layers", layers)],
        ),
        E::ViewOutOfRange {
            positions,
            d_model: Some(d_model),
            max_positions,
            max_width,
        } => trf(
            "error.encoding_out_of_range",
            &[
                ("positions", positions),
                ("d_model", d_model),
                ("max", max_positions),
                ("max_width", max_width),
            ],
        ),
        E::ViewOutOfRange {
            positions,
            d_model: None,
            max_positions,
            ..
        } => trf(
            "error.view_out_of_range",
            &[("positions", positions), ("max", max_positions)],
        ),
        E::NoRotaryView => tr("error.no_rotary_view"),
        E::BadRequest { what } => trf("error.bad_request", &[("what", what)]),
        E::Compute { message } => trf("error.compute", &[("message", message)]),
    }
}
