//! Horizontal bars with their labels and values (predictions, saliency shares).
use leptos::prelude::*;

use super::ChartCanvas;
use crate::i18n::tr;
use ae_charts::{Bar, BarsChart};

/// A bar chart with its downloads; the canvas's label lists every bar.
#[component]
pub fn BarChart(
    bars: Signal<Vec<Bar>>,
    testid: &'static str,
    /// String key of the values' name.
    value_name: &'static str,
) -> impl IntoView {
    let chart = Memo::new(move |_| {
        Some(BarsChart {
            bars: bars.get(),
            value_name: tr(value_name),
            label_name: tr("step.token"),
        })
    });
    let label = move || {
        let bars = bars.get();
        let listed: Vec<String> = bars
            .iter()
            .map(|b| format!("{} {:.3}", b.label, b.value))
            .collect();
        listed.join(", ")
    };
    view! {
        <div class="bar-chart">
            <ChartCanvas
                chart=chart
                max_width=460
                testid=testid
                label=Signal::derive(label)
                file_name=Signal::stored(testid.to_string())
            />
        </div>
    }
}

/// A bar chart under a caption (tracked).
#[component]
pub fn CaptionedBars(
    #[prop(into)] caption: Signal<String>,
    bars: Signal<Vec<Bar>>,
    testid: &'static str,
    /// String key of the values' name.
    value_name: &'static str,
) -> impl IntoView {
    view! {
        <figure>
            <figcaption>{move || caption.get()}</figcaption>
            <BarChart bars testid value_name />
        </figure>
    }
}
