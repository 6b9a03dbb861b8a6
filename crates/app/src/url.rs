//! Every view in the link. At start the page reads the address's parameters (a parameter it
//! cannot use falls back to the default and says so in a notice, never an error page); from then
//! on the address bar follows the view (`history.replaceState`), so copying the link reproduces it.
//!
//! Parameters: `model` (`hub:owner/name[@revision]` or `folder:name`), `text`, `layer` and `head`
//! (counted from 1, as the page shows them), `token` (the pinned query token's position),
//! `panel` (step, heatmaps, positions, predictions, saliency), `step` (1–7), `temperature`,
//! `top_k`, `top_p`, `seed`, `lang` (en, zh), `theme` (light, dark; absent: the system's); for
//! embedding: `embed=1` (no site header; the page reports its
//! height to the parent), `panels=` (the tabs offered), `lock=` (model, text, layer, head).
use leptos::prelude::*;

use super::i18n::{trf, Lang};
use super::loader::ModelSource;
use super::state::{AppState, Embedding, Lock, Panel, ThemeChoice};

/// Layer, head and token from the link, applied once the model and the tokens are known (only
/// then can they be checked).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Waiting {
    layer: Option<usize>,
    head: Option<usize>,
    token: Option<usize>,
}

/// The link's parameters.
fn parameters() -> Option<web_sys::UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()
}

/// Adds a line to the notice banner (several link problems can be reported together).
pub fn add_notice(state: AppState, message: String) {
    state.notice.update(|notice| {
        *notice = Some(match notice.take() {
            Some(earlier) => format!("{earlier} {message}"),
            None => message,
        })
    });
}

/// Reads the link into the state and keeps the address bar in step from then on.
pub fn follow_link(state: AppState) {
    let mut problems = Vec::new();
    let mut waiting = Waiting::default();
    if let Some(params) = parameters() {
        let mut number = |name: &str, min: f64, max: f64| -> Option<f64> {
            let raw = params.get(name)?;
            match raw.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && (min..=max).contains(&v) => Some(v),
                _ => {
                    problems.push(format!("{name}={raw}"));
                    None
                }
            }
        };
        let whole = |v: f64| (v.fract() == 0.0).then_some(v as usize);
        waiting.layer = number("layer", 1.0, 1e6).and_then(whole).map(|l| l - 1);
        waiting.head = number("head", 1.0, 1e6).and_then(whole).map(|h| h - 1);
        waiting.token = number("token", 0.0, 1e6).and_then(whole);
        if let Some(step) = number("step", 1.0, 7.0).and_then(whole) {
            state.step.set(step - 1);
        }
        if let Some(t) = number("temperature", 0.1, 3.0) {
            state.sampling.update(|s| s.temperature = t as f32);
        }
        if let Some(k) = number("top_k", 1.0, 1000.0).and_then(whole) {
            state.sampling.update(|s| s.top_k = k);
        }
        if let Some(p) = number("top_p", 0.05, 1.0) {
            state.sampling.update(|s| s.top_p = p as f32);
        }
        if let Some(seed) = number("seed", 0.0, 9e15).and_then(whole) {
            state.seed.set(seed as u64);
        }
        if let Some(code) = params.get("lang") {
            match Lang::from_code(&code) {
                Some(lang) => state.lang.set(lang),
                None => problems.push(format!("lang={code}")),
            }
        }
        if let Some(theme) = params.get("theme") {
            match [ThemeChoice::Light, ThemeChoice::Dark]
                .into_iter()
                .find(|t| t.id() == theme)
            {
                Some(choice) => state.theme_choice.set(Some(choice)),
                None => problems.push(format!("theme={theme}")),
            }
        }
        if let Some(panel) = params.get("panel") {
            match Panel::ALL.iter().find(|p| p.id() == panel) {
                Some(&p) => state.panel.set(p),
                None => problems.push(format!("panel={panel}")),
            }
        }
        let mut embedding = Embedding {
            compact: params.get("embed").is_some_and(|v| v == "1"),
            ..Embedding::default()
        };
        let list = |name: &str| {
            params
                .get(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        for name in list("panels") {
            match Panel::ALL.iter().find(|p| p.id() == name) {
                Some(&p) => embedding.panels.push(p),
                None => problems.push(format!("panels={name}")),
            }
        }
        for name in list("lock") {
            match Lock::ALL.iter().find(|(_, n)| *n == name) {
                Some(&(lock, _)) => embedding.locked.push(lock),
                None => problems.push(format!("lock={name}")),
            }
        }
        if !embedding.panels.is_empty() && !embedding.panels.contains(&state.panel.get_untracked())
        {
            state.panel.set(embedding.panels[0]);
        }
        state.embedding.set(embedding);
        if let Some(text) = params.get("text") {
            state.text.set(text);
            state.text_from_link.set(true);
        }
    }
    if !problems.is_empty() {
        add_notice(
            state,
            trf("link.ignored", &[("parameters", &problems.join(", "))]),
        );
    }
    apply_when_known(state, waiting);
    write_to_address_bar(state);
}

/// Applies layer and head when the model is loaded, the token when its tokens are known.
fn apply_when_known(state: AppState, waiting: Waiting) {
    let waiting = StoredValue::new(waiting);
    Effect::new(move |_| {
        let Some((layers, heads)) = state
            .model
            .with(|m| m.as_ref().map(|c| (c.n_layer, c.n_head)))
        else {
            return;
        };
        let Waiting { layer, head, .. } = waiting.get_value();
        let mut problems = Vec::new();
        match layer {
            Some(l) if l < layers => state.layer.set(l),
            Some(l) => problems.push(trf(
                "link.layer_missing",
                &[("layer", &(l + 1)), ("layers", &layers)],
            )),
            None => {}
        }
        match head {
            Some(h) if h < heads => state.head.set(h),
            Some(h) => problems.push(trf(
                "link.head_missing",
                &[("head", &(h + 1)), ("heads", &heads)],
            )),
            None => {}
        }
        if !problems.is_empty() {
            add_notice(
                state,
                trf("link.asks_for", &[("problems", &problems.join("; "))]),
            );
        }
        waiting.update_value(|w| {
            w.layer = None;
            w.head = None;
        });
    });
    Effect::new(move |_| {
        let Some(count) = state.tokens.with(|t| t.as_ref().map(|t| t.ids.len())) else {
            return;
        };
        if let Some(token) = waiting.get_value().token {
            if token < count {
                state.pinned.set(Some(token));
            } else {
                add_notice(
                    state,
                    trf(
                        "link.token_missing",
                        &[("token", &token), ("count", &count)],
                    ),
                );
            }
            waiting.update_value(|w| w.token = None);
        }
    });
}

/// The link for a model source (`None` for local files, which a link cannot carry).
fn model_parameter(source: &ModelSource) -> String {
    match source {
        ModelSource::Hub { repo, revision } if revision == "main" => format!("hub:{repo}"),
        ModelSource::Hub { repo, revision } => format!("hub:{repo}@{revision}"),
        ModelSource::Folder(name) => format!("folder:{name}"),
    }
}

/// The view as link parameters.
pub fn view_parameters(state: AppState) -> Vec<(&'static str, String)> {
    let sampling = state.sampling.get();
    let mut parameters = Vec::new();
    if let Some(source) = state.source.get() {
        parameters.push(("model", model_parameter(&source)));
    }
    parameters.extend([
        ("text", state.text.get()),
        ("layer", (state.layer.get() + 1).to_string()),
        ("head", (state.head.get() + 1).to_string()),
    ]);
    if let Some(token) = state.pinned.get() {
        parameters.push(("token", token.to_string()));
    }
    parameters.extend([
        ("panel", state.panel.get().id().to_string()),
        ("step", (state.step.get() + 1).to_string()),
        ("temperature", format!("{}", sampling.temperature)),
        ("top_k", sampling.top_k.to_string()),
        ("top_p", format!("{}", sampling.top_p)),
        ("seed", state.seed.get().to_string()),
        (
            "lang",
            if state.lang.get() == Lang::Zh {
                "zh"
            } else {
                "en"
            }
            .to_string(),
        ),
    ]);
    if let Some(theme) = state.theme_choice.get() {
        parameters.push(("theme", theme.id().to_string()));
    }
    let embedding = state.embedding.get();
    if embedding.compact {
        parameters.push(("embed", "1".into()));
    }
    if !embedding.panels.is_empty() {
        parameters.push((
            "panels",
            embedding
                .panels
                .iter()
                .map(|p| p.id())
                .collect::<Vec<_>>()
                .join(","),
        ));
    }
    if !embedding.locked.is_empty() {
        let names = Lock::ALL
            .iter()
            .filter(|(l, _)| embedding.locked.contains(l))
            .map(|(_, n)| *n);
        parameters.push(("lock", names.collect::<Vec<_>>().join(",")));
    }
    parameters
}

/// Keeps the address bar's parameters equal to the view once the first model is ready.
fn write_to_address_bar(state: AppState) {
    Effect::new(move |_| {
        if state.model.with(|m| m.is_none()) {
            return;
        }
        let parameters = view_parameters(state);
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(search) = web_sys::UrlSearchParams::new() else {
            return;
        };
        for (name, value) in &parameters {
            search.append(name, value);
        }
        let address = format!("?{}", String::from(search.to_string()));
        if let Ok(history) = window.history() {
            let _ =
                history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&address));
        }
    });
}

/// The link for the current view as an embedded page.
pub fn embed_address(state: AppState) -> String {
    let Ok(search) = web_sys::UrlSearchParams::new() else {
        return String::new();
    };
    for (name, value) in view_parameters(state) {
        if name != "embed" {
            search.append(name, &value);
        }
    }
    search.append("embed", "1");
    let base = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .map(|href| {
            href.split(['?', '#'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    format!("{base}?{}", String::from(search.to_string()))
}

/// In an embedded page, tells the parent window the page's height whenever it changes, as
/// `{type: "attention-explorer:height", height}`, so the iframe can fit it.
pub fn report_height_to_parent(state: AppState) {
    if !state.embedding.with_untracked(|e| e.compact) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let last = std::cell::Cell::new(0i32);
    let tick = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        let Some(window) = web_sys::window() else {
            return;
        };
        let height = window
            .document()
            .and_then(|d| d.document_element())
            .map_or(0, |e| e.scroll_height());
        if height == last.get() {
            return;
        }
        last.set(height);
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &message,
            &"type".into(),
            &"attention-explorer:height".into(),
        );
        let _ = js_sys::Reflect::set(&message, &"height".into(), &height.into());
        if let Ok(Some(parent)) = window.parent() {
            let _ = parent.post_message(&message, "*");
        }
    });
    use wasm_bindgen::JsCast;
    let _ = window
        .set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), 300);
    tick.forget();
}
