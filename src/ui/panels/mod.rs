//! The panel area: tab navigation and one file per panel.
mod heatmaps;
mod positions;
mod predictions;
mod saliency;
mod step_through;

use leptos::prelude::*;

pub(crate) use predictions::BarChart;

use super::state::{use_state, Panel};

/// Tabs and the visible panel.
#[component]
pub fn PanelArea() -> impl IntoView {
    let state = use_state();
    view! {
        <nav class="panel-tabs" role="tablist" aria-label="Panels">
            {Panel::ALL.iter().map(|&panel| view! {
                <button role="tab" data-testid=format!("tab-{}", panel.id())
                    aria-selected=move || (state.panel.get() == panel).to_string()
                    class:active=move || state.panel.get() == panel
                    on:click=move |_| state.panel.set(panel)>{panel.label()}</button>
            }).collect_view()}
            <CopyLink/>
        </nav>
        <section class="panel" role="tabpanel" data-testid=move || format!("panel-{}", state.panel.get().id())>
            {move || match state.panel.get() {
                Panel::StepThrough => step_through::StepThrough().into_any(),
                Panel::Heatmaps => heatmaps::Heatmaps().into_any(),
                Panel::Positions => positions::Positions().into_any(),
                Panel::Predictions => predictions::Predictions().into_any(),
                Panel::Saliency => saliency::Saliency().into_any(),
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
            copied.set(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
        });
    };
    view! {
        <button class="copy-link" data-testid="copy-link" on:click=copy
            title="The address always describes this view: layer, head, token, panel, step, text and model">
            {move || if copied.get() { "Link copied ✓" } else { "Copy link" }}
        </button>
    }
}
