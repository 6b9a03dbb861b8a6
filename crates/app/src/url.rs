//! The view and the address bar: at start the page applies the link (a parameter it cannot use
//! falls back to the default and says so in a notice, never an error page); from then on the
//! address bar follows the view (`history.replaceState`), so copying the link reproduces it.
//! What the parameters mean is `crate::link`.
use leptos::prelude::*;

use crate::i18n::tr;
use crate::link::LinkView;
use crate::state::{AppState, HeadSummary, Message};
use ae_messages::AttentionKind;

/// The address's parameters, in order.
fn address_parameters() -> Vec<(String, String)> {
    let Some(search) = web_sys::window().and_then(|w| w.location().search().ok()) else {
        return Vec::new();
    };
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    js_sys::try_iter(&params)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let pair = js_sys::Array::from(&entry.ok()?);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// Applies the link to the state and keeps the address bar in step from then on; returns the
/// model the link asks for (opened by the app).
pub fn follow_link(state: AppState) -> Option<String> {
    let parsed = LinkView::parse(&address_parameters());
    if !parsed.ignored.is_empty() {
        let ignored = parsed.ignored.join(", ");
        let notice = Message::new("link.ignored", &[("parameters", &ignored)]);
        state.view.add_notice(notice);
    }
    let link = parsed.view;
    apply_named(state, &link);
    let (settings, view) = (state.settings, state.view);
    settings.neuron.set(link.neuron);
    settings.factor_layers.set(link.factor_layers);
    settings.watched.set(link.watch.clone());
    state.text.lab.set(link.lab.clone());
    settings.induction.set(link.induction);
    if let Some(lang) = link.lang {
        view.lang.set(lang);
        view.lang_from_link.set(true);
    }
    view.theme_choice.set(link.theme);
    view.embedding.set(link.embedding.clone());
    view.lesson.set(link.lesson.clone());
    if link.text.is_some() {
        state.text.from_link.set(true);
    }
    apply_when_known(state, &link);
    write_to_address_bar(state);
    link.model
}

/// Sets what `link` names of the view shared by a link and a lesson's step: panel, step,
/// texts, shown attention, sampling, seed and the views' settings; what it leaves out stays.
fn apply_named(state: AppState, link: &LinkView) {
    let (selection, settings, view) = (state.selection, state.settings, state.view);
    if let Some(step) = link.step {
        selection.step.set(step);
    }
    settings.sampling.update(|s| {
        s.temperature = link.temperature.unwrap_or(s.temperature);
        s.top_k = link.top_k.unwrap_or(s.top_k);
        s.top_p = link.top_p.unwrap_or(s.top_p);
    });
    if link.toy.is_some() {
        settings.toy.set(link.toy.clone());
    }
    if let Some(seed) = link.seed {
        settings.seed.set(seed);
    }
    if let Some(factors) = link.factors {
        settings.factors.set(factors);
    }
    if let Some(summary) = link.head_summary.clone() {
        settings.head_summary.set(summary);
    }
    if let Some(panel) = link.panel {
        view.panel.set(panel);
    }
    if let Some(text) = link.text.clone() {
        state.text.text.set(text);
    }
    if let Some(second) = link.text2.clone() {
        state.text.second.set(second);
    }
    if let Some(target) = link.target.clone() {
        state.translation.target.set(target);
    }
    if let Some(kind) = link.attention {
        state.translation.kind.set(kind);
    }
}

/// Applies a lesson step's view to the loaded model: what [`apply_named`] sets, the lab (a step
/// shows the model as trained unless it says otherwise), saliency's target, the layer, head and
/// pinned token.
/// What the model does not have is named in a notice.
pub fn apply_step_view(state: AppState, link: &LinkView) {
    apply_named(state, link);
    let settings = state.settings;
    if link.neuron.is_some() {
        settings.neuron.set(link.neuron);
    }
    if link.factor_layers.is_some() {
        settings.factor_layers.set(link.factor_layers);
    }
    if !link.watch.is_empty() {
        settings.watched.set(link.watch.clone());
    }
    if link.induction.is_some() {
        settings.induction.set(link.induction);
    }
    state.text.lab.set(link.lab.clone());
    // Like the lab: a step that names no prediction explains the top one.
    state.selection.saliency_target.set(link.saliency);
    set_layer_and_head(state, link.layer, link.head, Asker::Step);
    if let Some(token) = link.token {
        pin_when_known(state, token, Asker::Step);
    }
}

/// Who asks for a layer, head or token the model or text may not have: the notice names it.
#[derive(Debug, Clone, Copy)]
enum Asker {
    Link,
    Step,
}

impl Asker {
    fn asks_for(self) -> &'static str {
        match self {
            Asker::Link => "link.asks_for",
            Asker::Step => "lesson.step_asks_for",
        }
    }

    fn token_missing(self) -> &'static str {
        match self {
            Asker::Link => "link.token_missing",
            Asker::Step => "lesson.step_token_missing",
        }
    }
}

/// Applies layer, head and saliency's target when the model is loaded (loading resets the
/// target to the top prediction, so the link's must come after), the token when its tokens are
/// known (only then can they be checked).
fn apply_when_known(state: AppState, link: &LinkView) {
    let waiting = StoredValue::new((link.layer, link.head, link.saliency));
    Effect::new(move |_| {
        if !state.model.card.with(Option::is_some) {
            return;
        }
        let (layer, head, saliency) = waiting.get_value();
        set_layer_and_head(state, layer, head, Asker::Link);
        if saliency.is_some() {
            state.selection.saliency_target.set(saliency);
        }
        waiting.set_value((None, None, None));
    });
    if let Some(token) = link.token {
        pin_when_known(state, token, Asker::Link);
    }
}

/// Pins `token` once the text's tokens are known (a link's, or a lesson step's new text);
/// a position the text does not have is named in a notice.
fn pin_when_known(state: AppState, token: usize, asker: Asker) {
    let waiting_token = StoredValue::new(Some(token));
    Effect::new(move |_| {
        if state.model.is_encoder_decoder() {
            // The pinned token is a target position.
            if let (Some(token), Some(trace)) =
                (waiting_token.get_value(), state.translation.trace())
            {
                if token < trace.target.tokens.len() {
                    state.translation.pinned.set(Some(token));
                }
                waiting_token.set_value(None);
            }
            return;
        }
        let count = state.text.token_count();
        let Some(token) = waiting_token.get_value().filter(|_| count > 0) else {
            return;
        };
        if token < count {
            state.selection.pinned.set(Some(token));
        } else {
            let notice = Message::new(
                asker.token_missing(),
                &[("token", &token), ("count", &count)],
            );
            state.view.add_notice(notice);
        }
        waiting_token.set_value(None);
    });
}

/// Sets the layer and head of the loaded model's shown stack (an encoder–decoder's shown
/// attention's), naming in a notice what the model does not have.
fn set_layer_and_head(state: AppState, layer: Option<usize>, head: Option<usize>, asker: Asker) {
    let Some((layers, heads, layer_signal, head_signal)) =
        state.model.card.with_untracked(|card| {
            let card = card.as_ref()?;
            let translation = state.translation;
            // An encoder–decoder's layer and head are its shown attention's, in its stack.
            Some(match &card.decoder {
                Some(decoder) if translation.kind.get_untracked() != AttentionKind::EncoderSelf => {
                    (
                        decoder.n_layer,
                        decoder.n_head,
                        translation.layer,
                        translation.head,
                    )
                }
                Some(_) => (
                    card.n_layer,
                    card.n_head,
                    translation.layer,
                    translation.head,
                ),
                None => (
                    card.n_layer,
                    card.n_head,
                    state.selection.layer,
                    state.selection.head,
                ),
            })
        })
    else {
        return;
    };
    let mut problems = Vec::new();
    match layer {
        Some(l) if l < layers => layer_signal.set(l),
        Some(l) => problems.push(Message::new(
            "link.layer_missing",
            &[("layer", &(l + 1)), ("layers", &layers)],
        )),
        None => {}
    }
    match head {
        Some(h) if h < heads => head_signal.set(h),
        Some(h) => problems.push(Message::new(
            "link.head_missing",
            &[("head", &(h + 1)), ("heads", &heads)],
        )),
        None => {}
    }
    if !problems.is_empty() {
        let problems: Vec<String> = problems.iter().map(Message::describe).collect();
        let problems = problems.join(&tr("list.separator"));
        let notice = Message::new(asker.asks_for(), &[("problems", &problems)]);
        state.view.add_notice(notice);
    }
}

/// The current view as a link (tracked).
pub fn current_view(state: AppState) -> LinkView {
    let sampling = state.settings.sampling.get();
    let translation = state
        .model
        .is_encoder_decoder()
        .then_some(state.translation);
    let (layer, head, token) = match translation {
        Some(t) => (t.layer.get(), t.head.get(), t.pinned.get()),
        None => (
            state.selection.layer.get(),
            state.selection.head.get(),
            state.selection.pinned.get(),
        ),
    };
    LinkView {
        model: state.model.source.get().map(|source| source.to_link()),
        text: Some(state.text.text.get()),
        text2: Some(state.text.second.get()).filter(|t| !t.trim().is_empty()),
        target: translation.map(|t| t.target.get()),
        attention: translation.map(|t| t.kind.get()),
        layer: Some(layer),
        head: Some(head),
        token,
        saliency: translation
            .is_none()
            .then(|| state.selection.saliency_target.get())
            .flatten(),
        step: Some(state.selection.step.get()),
        temperature: Some(sampling.temperature),
        top_k: Some(sampling.top_k),
        top_p: Some(sampling.top_p),
        seed: Some(state.settings.seed.get()),
        lang: Some(state.view.lang.get()),
        theme: state.view.theme_choice.get(),
        panel: Some(state.shown_panel()),
        neuron: state.settings.neuron.get(),
        factors: Some(state.settings.factors.get()),
        factor_layers: state.settings.factor_layers.get(),
        watch: state.settings.watched.get(),
        lab: state.text.lab.get(),
        head_summary: Some(state.settings.head_summary.get())
            .filter(|summary| *summary != HeadSummary::default()),
        induction: state.settings.induction.get(),
        toy: state.settings.toy.get(),
        lesson: state.view.lesson.get(),
        embedding: state.view.embedding.get(),
    }
}

/// Keeps the address bar's parameters equal to the view once the first model is ready.
fn write_to_address_bar(state: AppState) {
    Effect::new(move |_| {
        if !state.model.is_loaded() {
            return;
        }
        let parameters = current_view(state).parameters();
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
    for (name, value) in current_view(state).parameters() {
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
    if !state.view.embedding.with_untracked(|e| e.compact) {
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
