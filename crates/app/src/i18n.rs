//! English and Simplified Chinese: every string the page shows lives in `lang/en.json` and
//! `lang/zh.json` under the same keys, except the worker's errors and warnings, which
//! `ae_messages` words in both languages (`tests/strings.rs` checks that the tables match and that
//! every key used here exists). `{name}` in a string is filled by [`trf`].
//!
//! The language is a signal (`ViewState::lang`, followed by [`follow`]); [`tr`] reads it, so
//! every view, attribute or chart that words something re-renders when it changes, and nothing
//! else is rebuilt.
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

use leptos::prelude::*;

pub use ae_messages::Lang;

thread_local! {
    static LANGUAGE: Cell<Option<RwSignal<Lang>>> = const { Cell::new(None) };
}

/// Words the page in the language `lang` holds, from now on.
pub fn follow(lang: RwSignal<Lang>) {
    LANGUAGE.with(|l| l.set(Some(lang)));
}

/// The page's language (tracked); English before the page follows a language.
pub fn current() -> Lang {
    LANGUAGE
        .with(Cell::get)
        .and_then(|lang| lang.try_get())
        .unwrap_or(Lang::En)
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
