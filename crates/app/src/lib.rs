//! The page: a Leptos single-page app. Data flows one way: text → worker (tokenizer, engine)
//! → trace → shared signals → panels. Browser only: natively the crate is empty.
#![cfg(target_arch = "wasm32")]
mod canvas;
mod client;
mod export;
mod i18n;
mod input;
mod loader;
mod panels;
mod picker;
mod state;
mod url;

use leptos::prelude::*;
use leptos::task::spawn_local;

use i18n::{tr, trf, Lang};
use loader::{FetchError, ModelSource};
use state::{AppState, LoadStatus, ThemeChoice};

/// The default model when the Hub is reachable.
pub const DEFAULT_HUB_MODEL: &str = "openai-community/gpt2";
/// The default model on small screens: distilled GPT-2 (82M parameters instead of 124M).
pub const SMALL_SCREEN_HUB_MODEL: &str = "distilbert/distilgpt2";

// plotters measures text with a `<span>` it styles through `setAttribute("style", …)`, which a
// Content-Security-Policy without 'unsafe-inline' refuses (and the measurement goes wrong).
// Styles set through the CSSOM are allowed, so script-set style attributes are routed there.
// (wasm-bindgen writes this into a module file of its own: no inline script.)
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function route_style_attributes_through_cssom() {
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === 'style' && this.style) {
      this.style.cssText = String(value);
      return;
    }
    return setAttribute.call(this, name, value);
  };
}
"#)]
extern "C" {
    fn route_style_attributes_through_cssom();
}

/// Mounts the app on the page.
pub fn start() {
    console_error_panic_hook::set_once();
    route_style_attributes_through_cssom();
    leptos::mount::mount_to_body(App);
}

/// Clears what belonged to the previous model and names the one now loading.
fn begin_load(state: AppState, source: Option<ModelSource>, label: String) {
    state.source.set(source);
    state.model_source.set(label);
    state.model.set(None);
    state.clear_trace();
    state.tokens.set(None);
}

/// Hands a model's files to the worker to build.
fn build_model(files: loader::ModelFiles, state: AppState) {
    state.load.set(LoadStatus::Building);
    state.model_bytes.set(Some(files.model.length() as usize));
    client::load(files);
}

/// Loads a model from a source: fetch (or cache) → worker.
pub async fn open_source(source: ModelSource, state: AppState) -> Result<(), FetchError> {
    begin_load(state, Some(source.clone()), source.label());
    let files = loader::fetch_model(&source, state).await?;
    build_model(files, state);
    Ok(())
}

/// Opens the model the URL asks for (`?model=hub:owner/name[@revision]` or `?model=folder:name`),
/// else GPT-2 from the Hub (distilgpt2 on small screens); with the Hub unreachable, the offline model with a notice.
async fn open_initial_model(state: AppState) {
    let requested = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
        .and_then(|params| params.get("model"));
    let source = match requested.as_deref().and_then(parse_source) {
        Some(source) => source,
        None => {
            if let Some(bad) = requested {
                url::add_notice(state, trf("app.bad_model", &[("model", &bad)]));
            }
            ModelSource::Hub {
                repo: if state::small_screen() {
                    SMALL_SCREEN_HUB_MODEL
                } else {
                    DEFAULT_HUB_MODEL
                }
                .into(),
                revision: "main".into(),
            }
        }
    };
    report(open_with_offline_fallback(source, state).await, state);
}

/// Opens a source; when it is the Hub and the Hub cannot be reached, opens the offline model.
pub async fn open_with_offline_fallback(
    source: ModelSource,
    state: AppState,
) -> Result<(), FetchError> {
    match open_source(source.clone(), state).await {
        Err(FetchError::Unreachable(_)) if matches!(source, ModelSource::Hub { .. }) => {
            let offline = loader::best_offline_model(&loader::hosted_models().await);
            let notice = if offline == loader::OFFLINE_MODELS[0] {
                "app.offline_decoder"
            } else {
                "app.offline"
            };
            url::add_notice(state, trf(notice, &[("model", &offline)]));
            open_source(ModelSource::Folder(offline.into()), state).await
        }
        other => other,
    }
}

/// Shows a failed load in the page.
pub fn report(result: Result<(), FetchError>, state: AppState) {
    if let Err(e) = result {
        state.load.set(LoadStatus::Failed(e.to_string()));
        if e != FetchError::Cancelled {
            state.error.set(Some(e.to_string()));
        }
    }
}

fn parse_source(value: &str) -> Option<ModelSource> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            && !s.contains("..")
    };
    if let Some(hub) = value.strip_prefix("hub:") {
        let (repo, revision) = hub.split_once('@').unwrap_or((hub, "main"));
        return (valid(repo) && valid(revision)).then(|| ModelSource::Hub {
            repo: repo.into(),
            revision: revision.into(),
        });
    }
    let name = value.strip_prefix("folder:")?;
    (valid(name) && !name.contains('/')).then(|| ModelSource::Folder(name.into()))
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    client::start(state);
    url::follow_link(state);
    url::report_height_to_parent(state);
    spawn_local(open_initial_model(state));
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        state.viewport_width.set(state::viewport_width())
    });
    on_cleanup(move || resize.remove());

    // Trace the text whenever it or the model changes; the client drops stale requests.
    Effect::new(move |_| {
        let ready = state.model.with(|m| m.is_some());
        let text = state.text.get();
        if !ready {
            return;
        }
        if text.trim().is_empty() {
            client::cancel_trace();
            state.tokens.set(None);
            state.clear_trace();
        } else {
            client::trace(text);
        }
    });
    // The worker sends one layer's attention internals with a trace; another layer's when it
    // is selected.
    Effect::new(move |_| {
        let layer = state.layer.get();
        let shown = state.layer_trace.with(|l| l.as_ref().map(|l| l.layer));
        if state.trace.with(Option::is_some) && shown.is_some_and(|shown| shown != layer) {
            client::layer(layer);
        }
    });
    // After a worker crash, load the same model again (from the cache).
    Effect::new(move |previous: Option<u32>| {
        let count = state.reload.get();
        if previous.is_some() {
            if let Some(source) = state.source.get_untracked() {
                spawn_local(async move { report(open_source(source, state).await, state) });
            }
        }
        count
    });

    follow_theme_and_language(state);

    let compact = state.embedding.with_untracked(|e| e.compact);
    // Every view is rebuilt in the new language when it changes; the state lives on.
    move || {
        i18n::set_current(state.lang.get());
        view! {
            {(!compact).then(|| view! {
                <header class="site-header">
                    <div>
                        <h1>"Attention Explorer"</h1>
                        <p class="tagline">{tr("app.tagline")}</p>
                    </div>
                    <Settings/>
                </header>
            })}
            <main class:embed=compact>
                {compact.then(|| view! { <Settings/> })}
                <Notices/>
                <picker::ModelPicker/>
                <input::TextInput/>
                <panels::PanelArea/>
            </main>
        }
    }
}

/// Keeps `<html lang>` and `<html data-theme>` in step with the state, and follows the system's
/// colour scheme while the user has not chosen one.
fn follow_theme_and_language(state: AppState) {
    Effect::new(move |_| {
        let (lang, theme) = (state.lang.get(), state.theme());
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("lang", lang.code());
            let _ = root.set_attribute("data-theme", theme.id());
        }
    });
    if let Some(query) = state::dark_query() {
        let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            state
                .system_dark
                .set(state::dark_query().is_some_and(|q| q.matches()));
        });
        use wasm_bindgen::JsCast;
        let _ = query.add_event_listener_with_callback("change", listener.as_ref().unchecked_ref());
        listener.forget();
    }
}

/// The language menu and the light/dark toggle.
#[component]
fn Settings() -> impl IntoView {
    let state = state::use_state();
    let dark = move || state.theme() == ThemeChoice::Dark;
    view! {
        <div class="settings">
            <label>
                <span class="visually-hidden">{tr("app.language")}</span>
                <select data-testid="language" aria-label=tr("app.language")
                    prop:value=move || state.lang.get().code()
                    on:change=move |ev| {
                        if let Some(lang) = Lang::from_code(&event_target_value(&ev)) {
                            state.lang.set(lang)
                        }
                    }>
                    {Lang::ALL.iter().map(|lang| view! {
                        <option value=lang.code() selected=state.lang.get_untracked() == *lang>{lang.native_name()}</option>
                    }).collect_view()}
                </select>
            </label>
            <button class="theme-toggle" data-testid="theme-toggle" aria-pressed=move || dark().to_string()
                on:click=move |_| state.theme_choice.set(Some(if dark() { ThemeChoice::Light } else { ThemeChoice::Dark }))>
                {move || if dark() { tr("app.light_mode") } else { tr("app.dark_mode") }}
            </button>
        </div>
    }
}

/// The notice and error banners.
#[component]
fn Notices() -> impl IntoView {
    let state = state::use_state();
    view! {
        <Banner message=state.notice class="notice" role="status" label=tr("app.dismiss_notice")/>
        <Banner message=state.error class="error" role="alert" label=tr("app.dismiss_error")/>
    }
}

/// A dismissible message, shown while `message` holds one.
#[component]
fn Banner(
    message: RwSignal<Option<String>>,
    class: &'static str,
    role: &'static str,
    label: String,
) -> impl IntoView {
    view! {
        <Show when=move || message.with(|m| m.is_some())>
            <div class=class role=role data-testid=class>
                {move || message.get().unwrap_or_default()}
                <button class="dismiss" aria-label=label.clone() on:click=move |_| message.set(None)>"×"</button>
            </div>
        </Show>
    }
}
