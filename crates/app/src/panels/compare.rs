//! Two sentences side by side (the lab): a second text traced by the same model, with the
//! same interventions. Its heatmap beside the first's for the selected layer and head, their
//! difference A − B where the token counts match (minimal pairs: " is" / " are", "tired" /
//! "wide"), and both texts' predictions and saliency.
use std::sync::Arc;

use leptos::prelude::*;

use super::analyses::{predict_text_request, prediction_result, predictions, PredictionResult};
use super::heatmaps::{heatmap_tooltip, traced};
use super::positions::MatrixCanvas;
use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use crate::widgets::{CaptionedBars, ChartCanvas, Checkbox, Pointed};
use ae_charts::{attention_grid, Bar, HeatmapChart, Highlight};
use ae_messages::{
    Array, Candidate, PageTrace, Predictions, Request, Response, Saliency, SamplingSettings,
};

/// How many candidates the comparison lists for each text.
const COMPARED: usize = 5;

/// Minimal pairs offered as a start: (first, second).
const PAIR_EXAMPLES: [(&str, &str); 3] = [
    (
        "The animal didn't cross the street because it was too tired.",
        "The animal didn't cross the street because it was too wide.",
    ),
    ("The keys to the cabinet", "The key to the cabinet"),
    ("The doctor said that she", "The doctor said that he"),
];

/// A trace with its tokens' special flags.
pub(crate) type Side = (Arc<PageTrace>, Vec<bool>);

/// The first candidates of a prediction (the first [MASK]'s for a fill).
fn candidates(result: &PredictionResult) -> Vec<Candidate> {
    let all = match &result.predictions {
        Predictions::NextToken(next) => next.candidates.clone(),
        Predictions::MaskFill(fills) => fills
            .first()
            .map(|f| f.candidates.clone())
            .unwrap_or_default(),
    };
    all.into_iter().take(COMPARED).collect()
}

/// The section.
#[component]
pub fn Compare() -> impl IntoView {
    let state = use_state();
    let second = state.text.second;
    // Keyed on the first text's trace too: a new model or new interventions trace it again.
    let traced_second = owned_request(
        move || {
            let text = second.get();
            // After the first text's trace: asked before it, an error would show, be cleared
            // by that trace's arrival, and show again.
            let trace = state.text.trace_id()?;
            (!text.trim().is_empty()).then_some((trace, text))
        },
        |(_, text): &(u32, String)| Request::CompareTrace {
            text: text.clone(),
            lab: None,
        },
        |answer| match answer.response {
            Response::CompareTrace { tokens, trace } => Some((Arc::new(*trace), tokens.special)),
            _ => None,
        },
    );
    Effect::new(move |_| {
        if let Some(Err(failure)) = traced_second.current() {
            state.view.report(failure);
        }
    });
    let other = Signal::derive(move || traced_second.value());
    view! {
        <section class="lab-compare" data-testid="lab-compare">
            <h3>{move || tr("compare.title")}</h3>
            <p class="muted">{move || tr("compare.explain")}</p>
            <SecondText />
            <Show when=move || other.with(Option::is_some)>
                <CompareHeatmaps other />
                <Difference other />
                <ComparePredictions />
                <CompareSaliency other />
            </Show>
        </section>
    }
}

/// The second text's box and the minimal pairs.
#[component]
fn SecondText() -> impl IntoView {
    let state = use_state();
    let second = state.text.second;
    let pairs = PAIR_EXAMPLES
        .iter()
        .map(|&(first, other)| {
            view! {
                <button
                    class="example"
                    data-testid="compare-pair"
                    on:click=move |_| {
                        state.text.text.set(first.to_string());
                        second.set(other.to_string());
                    }
                >
                    {format!("{first} / {other}")}
                </button>
            }
        })
        .collect_view();
    view! {
        <label class="compare-text">
            {move || format!("{} ", tr("compare.second"))}
            <input
                type="text"
                data-testid="text2"
                prop:value=move || second.get()
                on:change=move |ev| second.set(event_target_value(&ev))
            />
        </label>
        <div class="examples" role="group" aria-label=move || tr("compare.pairs")>
            <span class="muted">{move || tr("compare.pairs")}</span>
            {pairs}
        </div>
    }
}

/// One side's heatmap of the selected layer and head.
#[component]
pub(crate) fn SideHeatmap(
    side: Signal<Option<Side>>,
    testid: &'static str,
    title: &'static str,
) -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let chart = Memo::new(move |_| {
        let (trace, special) = side.get()?;
        let options = state.settings.heatmap.get();
        let (layer, head) = (selection.layer.get(), selection.head.get());
        let grid = attention_grid(&trace, &special, layer, head, options).ok()?;
        Some(HeatmapChart {
            grid,
            highlight: Highlight::token(None),
            weight: tr("chart.weight"),
            masked: tr("chart.masked"),
            title: tr(title),
            corner: tr("heatmaps.corner"),
        })
    });
    let label = Signal::derive(move || tr(title));
    view! {
        <figure class="heatmap">
            <figcaption>{label}</figcaption>
            <ChartCanvas
                chart=chart
                max_width=420
                testid=testid
                label
                file_name=Signal::derive(move || testid.to_string())
                tooltip=Callback::new(move |(chart, cell): (HeatmapChart, Pointed)| heatmap_tooltip(
                    &chart.grid,
                    cell,
                    state,
                    "heatmaps.masked_future",
                ))
            />
        </figure>
    }
}

/// Both texts' heatmaps.
#[component]
fn CompareHeatmaps(other: Signal<Option<Side>>) -> impl IntoView {
    let state = use_state();
    let first = Signal::derive(move || traced(&state));
    view! {
        <div class="chart-row">
            <SideHeatmap side=first testid="compare-first" title="compare.first_title" />
            <SideHeatmap side=other testid="compare-second" title="compare.second_title" />
        </div>
    }
}

/// The first text's attention minus the second's, for the selected layer and head, when both
/// have as many tokens; else why there is none.
#[component]
fn Difference(other: Signal<Option<Side>>) -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let pair = move || Some((state.text.page_trace()?, other.get()?.0));
    let values = Signal::derive(move || {
        let (first, second) = pair()?;
        let index = [selection.layer.get(), selection.head.get()];
        let (a, b) = (
            first.attentions.block(&index)?,
            second.attentions.block(&index)?,
        );
        let n = first.tokens.len();
        (second.tokens.len() == n).then(|| Array {
            shape: vec![n, n],
            data: a.iter().zip(b).map(|(a, b)| a - b).collect(),
        })
    });
    let labels = Signal::derive(move || {
        let Some((first, second)) = pair() else {
            return (Vec::new(), Vec::new());
        };
        let names: Vec<String> = first
            .tokens
            .iter()
            .zip(&second.tokens)
            .map(|(a, b)| {
                if a == b {
                    a.clone()
                } else {
                    format!("{a} / {b}")
                }
            })
            .collect();
        (names.clone(), names)
    });
    let counts = move || pair().map_or((0, 0), |(a, b)| (a.tokens.len(), b.tokens.len()));
    let caption = Signal::derive(move || {
        trf(
            "compare.difference_caption",
            &[
                ("layer", &(selection.layer.get() + 1)),
                ("head", &(selection.head.get() + 1)),
            ],
        )
    });
    view! {
        <Show
            when=move || values.with(Option::is_some)
            fallback=move || {
                view! {
                    <p class="notice" data-testid="compare-counts">
                        {move || {
                            let (first, second) = counts();
                            trf("compare.counts_differ", &[("first", &first), ("second", &second)])
                        }}
                    </p>
                }
            }
        >
            <p class="muted">{move || tr("compare.difference_explain")}</p>
            <MatrixCanvas
                values
                testid="compare-difference"
                caption
                row_name="induction.query_axis"
                column_name="induction.key_axis"
                fixed_limit=None
                labels
            />
        </Show>
    }
}

/// Both texts' top predictions, side by side.
#[component]
fn ComparePredictions() -> impl IntoView {
    let state = use_state();
    let first = predictions(state);
    // The second text's, keyed like the first's (trace and settings) and on the text.
    let second = owned_request(
        move || {
            let text = state.text.second.get();
            let trace = state.text.trace_id()?;
            state
                .has_logits()
                .then(|| (trace, state.settings.sampling.get(), text))
        },
        |(_, settings, text): &(u32, SamplingSettings, String)| {
            predict_text_request(text.clone(), *settings, None, false)
        },
        |answer| prediction_result(answer.response),
    );
    let rows = move || {
        let (a, b) = (candidates(&first.value()?), candidates(&second.value()?));
        Some(a.into_iter().zip(b).enumerate().collect::<Vec<_>>())
    };
    view! {
        <Show when=move || state.has_logits()>
            <table class="compare-predictions" data-testid="compare-predictions">
                <caption>{move || tr("compare.predictions")}</caption>
                <thead>
                    <tr>
                        <th></th>
                        <th colspan="2">{move || tr("compare.first_title")}</th>
                        <th colspan="2">{move || tr("compare.second_title")}</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(rank, (a, b))| {
                                view! {
                                    <tr
                                        data-testid="compare-prediction"
                                        data-first-id=a.token_id
                                        data-first=a.probability
                                        data-second-id=b.token_id
                                        data-second=b.probability
                                    >
                                        <td class="num">{rank + 1}</td>
                                        <td>{a.token.clone()}</td>
                                        <td class="num">{format!("{:.4}", a.probability)}</td>
                                        <td>{b.token.clone()}</td>
                                        <td class="num">{format!("{:.4}", b.probability)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </Show>
    }
}

/// Both texts' saliency for their top prediction, on request (two backward passes).
#[component]
fn CompareSaliency(other: Signal<Option<Side>>) -> impl IntoView {
    let state = use_state();
    let wanted = RwSignal::new(false);
    let saliency_of = move |second: bool| {
        owned_request(
            move || {
                let text = match second {
                    true => state.text.second.get(),
                    false => state.text.text.get(),
                };
                let trace = state.text.trace_id()?;
                (wanted.get() && state.has_logits()).then_some((trace, text))
            },
            |(_, text): &(u32, String)| Request::Saliency {
                text: text.clone(),
                position: None,
                target: None,
            },
            |answer| match answer.response {
                Response::Saliency { saliency } => Some(saliency),
                _ => None,
            },
        )
    };
    let (first, second) = (saliency_of(false), saliency_of(true));
    let first_tokens = move || state.text.page_trace().map(|t| t.tokens.clone());
    let second_tokens = move || other.get().map(|(t, _)| t.tokens.clone());
    let bars = |saliency: Option<Saliency>, tokens: Option<Vec<String>>| -> Vec<Bar> {
        saliency
            .zip(tokens)
            .map(|(s, tokens)| {
                tokens
                    .iter()
                    .zip(&s.scores)
                    .map(|(token, &value)| Bar {
                        label: token.clone(),
                        value,
                        active: true,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let caption = |saliency: Option<Saliency>, side: &'static str| {
        let token = saliency.map(|s| s.target_token).unwrap_or_default();
        trf(
            "compare.saliency_caption",
            &[("side", &tr(side)), ("token", &token)],
        )
    };
    view! {
        <Show when=move || state.has_logits()>
            <Checkbox
                testid="compare-saliency"
                checked=wanted
                set=Callback::new(move |on| wanted.set(on))
                label=Signal::derive(move || tr("compare.saliency"))
            />
            <Show when=move || wanted.get()>
                <div class="chart-row">
                    <CaptionedBars
                        caption=Signal::derive(move || caption(
                            first.value(),
                            "compare.first_title",
                        ))
                        bars=Signal::derive(move || bars(first.value(), first_tokens()))
                        testid="compare-saliency-first"
                        value_name="chart.weight"
                    />
                    <CaptionedBars
                        caption=Signal::derive(move || caption(
                            second.value(),
                            "compare.second_title",
                        ))
                        bars=Signal::derive(move || bars(second.value(), second_tokens()))
                        testid="compare-saliency-second"
                        value_name="chart.weight"
                    />
                </div>
            </Show>
        </Show>
    }
}
