//! The panel area: tab navigation and one file per panel.
pub(crate) mod analyses;
mod anatomy;
mod compare;
mod head_summary;
mod heatmaps;
mod induction;
mod lab;
mod lesson;
mod neurons;
mod padding;
mod positions;
mod predictions;
mod rankings;
mod saliency;
mod sandbox;
mod step_through;
mod translation;

use leptos::prelude::*;

use super::i18n::tr;
use super::state::{use_state, Panel};
pub use lesson::LessonCard;

/// Tabs and the visible panel.
#[component]
pub fn PanelArea() -> impl IntoView {
    let state = use_state();
    // "Test yourself": the kind of question open, if one is.
    let quiz = RwSignal::new(None::<usize>);
    let shown = Memo::new(move |_| state.shown_panel());
    view! {
        <nav class="panel-tabs" aria-label=move || tr("panels.label")>
            <div class="tab-list" role="tablist" aria-label=move || tr("panels.label")>
                {move || {
                    state
                        .offered_panels()
                        .into_iter()
                        .map(|panel| {
                            view! {
                                <button
                                    role="tab"
                                    data-testid=format!("tab-{}", panel.id())
                                    aria-selected=move || (shown.get() == panel).to_string()
                                    class:active=move || shown.get() == panel
                                    on:click=move |_| state.view.panel.set(panel)
                                >
                                    {move || panel.label()}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <CopyLink />
            <lesson::TourButton />
            <lesson::QuizButton quiz />
            <lesson::LessonMenu />
            <EmbedDialog />
        </nav>
        <lab::LabBanner />
        <lesson::QuizCard quiz />
        <section
            class="panel"
            role="tabpanel"
            data-testid=move || format!("panel-{}", shown.get().id())
        >
            {move || match shown.get() {
                Panel::StepThrough => step_through::StepThrough().into_any(),
                Panel::Heatmaps => heatmaps::Heatmaps().into_any(),
                Panel::Positions => positions::Positions().into_any(),
                Panel::Predictions => predictions::Predictions().into_any(),
                Panel::Saliency => saliency::Saliency().into_any(),
                Panel::Translation => translation::Translation().into_any(),
                Panel::Neurons => neurons::Neurons().into_any(),
                Panel::Rankings => rankings::Rankings().into_any(),
                Panel::Lab => lab::Lab().into_any(),
                Panel::Anatomy => anatomy::Anatomy().into_any(),
                Panel::Sandbox => sandbox::Sandbox().into_any(),
            }}
        </section>
    }
}

/// Copies the address (which always describes the current view) to the clipboard.
#[component]
fn CopyLink() -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(address) = window.location().href() else {
            return;
        };
        let promise = window.navigator().clipboard().write_text(&address);
        leptos::task::spawn_local(async move {
            // `try_set`: the panels may have been rebuilt while the clipboard answered.
            let written = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            copied.try_set(written);
        });
    };
    view! {
        <button
            class="copy-link"
            data-testid="copy-link"
            on:click=copy
            title=move || tr("panels.copy_link_title")
        >
            {move || if copied.get() { tr("panels.link_copied") } else { tr("panels.copy_link") }}
        </button>
    }
}

/// Writes the `<iframe>` snippet for the current view (embedded: no site header, height sent to
/// the parent page).
#[component]
fn EmbedDialog() -> impl IntoView {
    let state = use_state();
    let open = RwSignal::new(false);
    let recorded = RwSignal::new(Vec::new());
    let snippet = move || {
        let address = crate::url::embed_address(state)
            .replace('&', "&amp;")
            .replace('"', "&quot;");
        // The snippet a teacher pastes: the iframe, and the listener that fits its height.
        include_str!("embed_snippet.html")
            .trim_end()
            .replace("{address}", &address)
    };
    view! {
        <button
            class="copy-link embed-button"
            data-testid="embed-open"
            on:click=move |_| open.update(|o| *o = !*o)
            aria-expanded=move || open.get().to_string()
        >
            {move || tr("panels.embed")}
        </button>
        <Show when=move || open.get()>
            <div class="embed-dialog" role="dialog" aria-label=move || tr("panels.embed_label")>
                <label for="embed-snippet">{move || tr("panels.embed_explain")}</label>
                <textarea
                    id="embed-snippet"
                    data-testid="embed-snippet"
                    rows="5"
                    readonly
                    prop:value=snippet
                ></textarea>
                <lesson::LessonRecorder recorded />
            </div>
        </Show>
    }
}
