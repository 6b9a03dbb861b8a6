//! English and Simplified Chinese: every string the page shows lives in `lang/en.json` and
//! `lang/zh.json` under the same keys, except the worker's errors and warnings, which
//! `ae_messages` words in both languages (`tests/strings.rs` checks that the tables match and that
//! every key used here exists). `{name}` in a string is filled by [`trf`].
//!
//! The page rebuilds its views when the language changes (see `ui::App`), so components read the
//! current language once, untracked.
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

pub use ae_messages::Lang;

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
