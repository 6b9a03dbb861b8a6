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
