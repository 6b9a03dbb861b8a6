//! The page's root: it creates the state slices, starts the worker client and the loader, reads
//! the link, and lays out the page. The wiring between slices lives here, in one place.
use leptos::prelude::*;

use crate::i18n::{self, tr, Lang};
use crate::loading::Loader;
use crate::sources::ModelSource;
use crate::state::{
    self, AppState, Message, ModelState, Selection, Settings, TextState, ThemeChoice,
    TranslationState, ViewState,
};
use crate::{client, input, panels, picker, url};

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
    remove_starting_notice();
    leptos::mount::mount_to_body(App);
}

/// index.html's "starting…" line, which stays only where the app never runs (its files refused
/// as changed on the way, no wasm, scripts off).
fn remove_starting_notice() {
    let notice = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("starting"));
    if let Some(notice) = notice {
        notice.remove();
    }
}

/// Creates every slice and the loader, and provides them to the components.
fn provide_state() -> (AppState, Loader) {
    let client = client::start();
    let (model, model_writer) = ModelState::new();
    let selection = Selection::new();
    let text = TextState::new(model, selection);
    let state = AppState {
        model,
        text,
        translation: TranslationState::new(model, text),
        selection,
        view: ViewState::new(),
        settings: Settings::new(),
        client,
    };
    provide_context(state);
    let loader = Loader::new(state, model_writer);
    provide_context(loader);
    (state, loader)
}

/// Opens the model the link asks for, else the default Hub model (the offline one when the Hub
/// is unreachable).
fn open_initial_model(state: AppState, loader: Loader, requested: Option<String>) {
    let source = match requested.as_deref().map(|m| (m, ModelSource::from_link(m))) {
        Some((_, Some(source))) => source,
        other => {
            if let Some((bad, None)) = other {
                let notice = Message::new("app.bad_model", &[("model", &bad)]);
                state.view.add_notice(notice);
            }
            ModelSource::default_hub(state::small_screen())
        }
    };
    loader.spawn(loader.open_with_offline_fallback(source));
}

/// The slices' effects on one another: failed requests show in the error banner, a new trace
/// clears it, and the page width follows the window.
fn connect(state: AppState) {
    Effect::new(move |_| {
        if let Some(failure) = state.client.failure.get() {
            state.view.report(failure);
        }
    });
    Effect::new(move |previous: Option<Option<u32>>| {
        let id = state.text.trace_id();
        if previous.is_some_and(|previous| previous != id) && id.is_some() {
            state.view.error.set(None);
        }
        id
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        state.view.viewport_width.set(state::viewport_width())
    });
    on_cleanup(move || resize.remove());
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    let (state, loader) = provide_state();
    i18n::follow(state.view.lang);
    let requested_model = url::follow_link(state);
    url::report_height_to_parent(state);
    open_initial_model(state, loader, requested_model);
    connect(state);
    follow_theme_and_language(state);

    let compact = state.view.embedding.with_untracked(|e| e.compact);
    view! {
        {(!compact)
            .then(|| {
                view! {
                    <header class="site-header">
                        <div>
                            <h1>"Attention Explorer"</h1>
                            <p class="tagline">{move || tr("app.tagline")}</p>
                        </div>
                        <Settings />
                    </header>
                }
            })}
        <main class:embed=compact>
            {compact.then(|| view! { <Settings /> })} <Notices /> <panels::LessonCard />
            <picker::ModelPicker />
            <input::TextInput /> <panels::PanelArea />
        </main>
    }
}

/// Keeps `<html lang>` and `<html data-theme>` in step with the state, and follows the system's
/// colour scheme while the user has not chosen one.
fn follow_theme_and_language(state: AppState) {
    Effect::new(move |_| {
        let (lang, theme) = (state.view.lang.get(), state.view.theme());
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
                .view
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
    let view_state = state::use_state().view;
    let dark = move || view_state.theme() == ThemeChoice::Dark;
    let toggle_theme = move |_| {
        let next = if dark() {
            ThemeChoice::Light
        } else {
            ThemeChoice::Dark
        };
        view_state.theme_choice.set(Some(next))
    };
    let choose_language = move |ev| {
        if let Some(lang) = Lang::from_code(&event_target_value(&ev)) {
            view_state.lang.set(lang)
        }
    };
    view! {
        <div class="settings">
            <label>
                <span class="visually-hidden">{move || tr("app.language")}</span>
                <select
                    data-testid="language"
                    aria-label=move || tr("app.language")
                    prop:value=move || view_state.lang.get().code()
                    on:change=choose_language
                >
                    {Lang::ALL
                        .iter()
                        .map(|lang| {
                            view! {
                                <option
                                    value=lang.code()
                                    selected=view_state.lang.get_untracked() == *lang
                                >
                                    {lang.native_name()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button
                class="theme-toggle"
                data-testid="theme-toggle"
                aria-pressed=move || dark().to_string()
                on:click=toggle_theme
            >
                {move || if dark() { tr("app.light_mode") } else { tr("app.dark_mode") }}
            </button>
        </div>
    }
}

/// The notice and error banners.
#[component]
fn Notices() -> impl IntoView {
    let view_state = state::use_state().view;
    let notice = Signal::derive(move || {
        view_state.notices.with(|notices| {
            (!notices.is_empty()).then(|| {
                let lines: Vec<String> = notices.iter().map(Message::describe).collect();
                lines.join(" ")
            })
        })
    });
    let error = Signal::derive(move || view_state.error.with(|e| e.as_ref().map(|e| e.describe())));
    view! {
        <Banner
            message=notice
            dismiss=Callback::new(move |()| view_state.notices.set(Vec::new()))
            class="notice"
            role="status"
            label="app.dismiss_notice"
        />
        <Banner
            message=error
            dismiss=Callback::new(move |()| view_state.error.set(None))
            class="error"
            role="alert"
            label="app.dismiss_error"
        />
    }
}

/// A dismissible message, shown while `message` holds one.
#[component]
fn Banner(
    message: Signal<Option<String>>,
    dismiss: Callback<()>,
    class: &'static str,
    role: &'static str,
    /// String key of the dismiss button's label.
    label: &'static str,
) -> impl IntoView {
    view! {
        <Show when=move || message.with(|m| m.is_some())>
            <div class=class role=role data-testid=class>
                {move || message.get().unwrap_or_default()}
                <button
                    class="dismiss"
                    aria-label=move || tr(label)
                    on:click=move |_| dismiss.run(())
                >
                    "×"
                </button>
            </div>
        </Show>
    }
}
