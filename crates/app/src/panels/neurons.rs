//! The feed-forward network's neurons, as Ecco shows them: the selected layer's activations
//! (after the non-linearity) at the query token, one neuron's activation on every token, the
//! NMF factors of a range of layers, and the residual stream each block writes into.
use leptos::prelude::*;

use super::positions::{LinesCanvas, MatrixCanvas};
use crate::client::{owned_request, Owned};
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState};
use crate::widgets::{BarChart, Pointed, WholeSlider};
use ae_charts::{css_colour, head_colour, Bar};
use ae_messages::{Array, LayerTrace, NeuronFactors, Request, Response};

/// How many of the query token's strongest neurons are listed.
const TOP_NEURONS: usize = 10;
/// How many neurons the tokens × neurons map shows: the text's most active.
const MAPPED_NEURONS: usize = 48;

/// The activations [token, d_ff] of a layer trace, as rows.
fn activation_rows(layer: &LayerTrace) -> Vec<&[f32]> {
    let activations = &layer.feed_forward.activations;
    let width = activations.shape.last().copied().unwrap_or(1).max(1);
    activations.data.chunks(width).collect()
}

/// The `k` most active neurons of one token's row, strongest first, as (neuron, activation).
pub(super) fn strongest(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    order.into_iter().take(k).map(|n| (n, row[n])).collect()
}

/// The panel.
#[component]
pub fn Neurons() -> impl IntoView {
    let state = use_state();
    let chosen = state.settings.neuron;
    view! {
        <h2>{move || tr("panel.neurons")}</h2>
        <p class="muted">{move || tr("neurons.intro")}</p>
        {move || match state.selected_layer_trace() {
            None => view! { <p class="muted">{move || tr("neurons.waiting")}</p> }.into_any(),
            Some(layer) => view! { <LayerNeurons layer chosen /> }.into_any(),
        }}
        {move || {
            state
                .model
                .read(None, |c| Some(c.n_layer.max(1)))
                .map(|n_layer| view! { <Factors n_layer /> })
        }}
        <ResidualStream />
    }
}

/// The query token's strongest neurons and the chosen neuron over the text.
#[component]
fn LayerNeurons(
    layer: std::sync::Arc<LayerTrace>,
    chosen: RwSignal<Option<usize>>,
) -> impl IntoView {
    let state = use_state();
    let tokens = untrack(|| state.text.traced_tokens());
    let rows: Vec<Vec<f32>> = activation_rows(&layer)
        .into_iter()
        .map(<[f32]>::to_vec)
        .collect();
    let d_ff = rows.first().map_or(0, Vec::len);
    let last_token = rows.len().saturating_sub(1);
    let query = move || state.query_token().unwrap_or(0).min(last_token);
    let top_rows = rows.clone();
    let top = Memo::new(move |_| {
        top_rows
            .get(query())
            .map(|r| strongest(r, TOP_NEURONS))
            .unwrap_or_default()
    });
    let bars = Signal::derive(move || {
        top.get()
            .into_iter()
            .map(|(neuron, value)| Bar {
                label: trf("neurons.neuron", &[("neuron", &neuron)]),
                value,
                active: true,
            })
            .collect()
    });
    // The chosen neuron, else the query token's strongest.
    let neuron = move || {
        chosen
            .get()
            .filter(|&n| n < d_ff)
            .or_else(|| top.get().first().map(|t| t.0))
    };
    let layer_number = layer.layer + 1;
    view! {
        <section class="neurons-layer">
            <h3>
                {move || trf(
                    "neurons.top_title",
                    &[
                        ("layer", &layer_number),
                        ("token", &tokens.get(query()).cloned().unwrap_or_default()),
                    ],
                )}
            </h3>
            <div class="neuron-choices" data-testid="neuron-choices">
                {move || {
                    top.get()
                        .into_iter()
                        .map(|(n, value)| {
                            view! {
                                <button
                                    class="token"
                                    data-testid="neuron-choice"
                                    data-neuron=n.to_string()
                                    data-value=value.to_string()
                                    aria-pressed=move || (neuron() == Some(n)).to_string()
                                    class:pinned=move || neuron() == Some(n)
                                    on:click=move |_| chosen.set(Some(n))
                                >
                                    {format!("#{n} {value:.3}")}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <BarChart bars testid="neuron-bars" value_name="neurons.activation" />
            <ActivationMap rows=rows.clone() chosen />
            {move || neuron().map(|n| view! { <NeuronOverText rows=rows.clone() neuron=n /> })}
        </section>
    }
}

/// The `k` neurons with the largest activation anywhere in the text, strongest first.
fn most_active_anywhere(rows: &[Vec<f32>], k: usize) -> Vec<usize> {
    let width = rows.first().map_or(0, Vec::len);
    let peaks: Vec<f32> = (0..width)
        .map(|n| rows.iter().fold(f32::NEG_INFINITY, |m, r| m.max(r[n])))
        .collect();
    strongest(&peaks, k).into_iter().map(|(n, _)| n).collect()
}

/// Tokens × the text's most active neurons as a heatmap; a click chooses the neuron.
#[component]
fn ActivationMap(rows: Vec<Vec<f32>>, chosen: RwSignal<Option<usize>>) -> impl IntoView {
    let state = use_state();
    let tokens = untrack(|| state.text.traced_tokens());
    let neurons = most_active_anywhere(&rows, MAPPED_NEURONS);
    let values = Array {
        shape: vec![rows.len(), neurons.len()],
        data: rows
            .iter()
            .flat_map(|r| neurons.iter().map(|&n| r[n]))
            .collect(),
    };
    let names = neurons.iter().map(|n| format!("#{n}")).collect();
    let on_click = Callback::new(move |cell: Pointed| {
        if let Some(&n) = neurons.get(cell.column) {
            chosen.set(Some(n));
        }
    });
    view! {
        <MatrixCanvas
            values=Signal::stored(Some(values))
            testid="neuron-map"
            caption=Signal::derive(move || {
                trf("neurons.map_caption", &[("count", &MAPPED_NEURONS)])
            })
            row_name="neurons.token"
            column_name="neurons.neuron_axis"
            fixed_limit=None
            labels=Signal::stored((tokens, names))
            on_click
        />
    }
}

/// One neuron's activation on every token, highlighted (Ecco's neuron view).
#[component]
fn NeuronOverText(rows: Vec<Vec<f32>>, neuron: usize) -> impl IntoView {
    let state = use_state();
    let tokens = untrack(|| state.text.traced_tokens());
    let values: Vec<f32> = rows
        .iter()
        .map(|r| r.get(neuron).copied().unwrap_or(0.0))
        .collect();
    let largest = values.iter().fold(1e-9f32, |m, &v| m.max(v));
    view! {
        <h4>{move || trf("neurons.over_text", &[("neuron", &neuron)])}</h4>
        <p class="saliency-text" data-testid="neuron-tokens" data-neuron=neuron.to_string()>
            {tokens
                .into_iter()
                .zip(values)
                .enumerate()
                .map(|(index, (token, value))| {
                    view! {
                        <span class="salient" data-index=index data-value=value.to_string()
                            title=format!("{token}: {value:.4}")
                            style:--share=format!("{:.3}", value.max(0.0) / largest)>{token.clone()}</span>
                    }
                })
                .collect_view()}
        </p>
    }
}

/// A factorisation answer keyed on (trace, layers, factors), with the worker's milliseconds.
type OwnedFactors = Owned<(u32, (usize, usize), usize), (NeuronFactors, f64)>;

/// NMF factors of the neuron activations of layers `first..=last`.
fn factors(
    state: AppState,
    layers: Signal<(usize, usize)>,
    count: RwSignal<usize>,
) -> OwnedFactors {
    owned_request(
        move || Some((state.text.trace_id()?, layers.get(), count.get())),
        |&(trace, layers, factors)| Request::Factors {
            trace,
            layers,
            factors,
        },
        |answer| match answer.response {
            Response::Factors { factors } => Some((factors, answer.compute_ms)),
            _ => None,
        },
    )
}

/// Ecco's NMF view of a model with `n_layer` blocks: each factor's strength over the tokens, as
/// highlights and as lines.
#[component]
fn Factors(n_layer: usize) -> impl IntoView {
    let state = use_state();
    let settings = state.settings;
    let count = settings.factors;
    // Layers as the page numbers them, from 1: the link's (within the model), else all.
    let (first_layer, last_layer) = untrack(|| settings.factor_layers.get())
        .map_or((1, n_layer), |(a, b)| {
            ((a + 1).min(n_layer), (b + 1).min(n_layer))
        });
    let first = RwSignal::new(first_layer);
    let last = RwSignal::new(last_layer);
    let layers = Signal::derive(move || {
        let (a, b) = (first.get(), last.get());
        (a.min(b) - 1, a.max(b) - 1)
    });
    // The address names the layers unless they are all of them.
    Effect::new(move |_| {
        let range = layers.get();
        settings
            .factor_layers
            .set((range != (0, n_layer - 1)).then_some(range));
    });
    let found = factors(state, layers, count);
    let series = Signal::derive(move || {
        found
            .value()
            .map(|(f, _)| {
                f.token_strengths
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (trf("neurons.factor", &[("factor", &(i + 1))]), s.clone()))
                    .collect()
            })
            .unwrap_or_default()
    });
    view! {
        <section class="neurons-factors" data-testid="nmf">
            <h3>{move || tr("neurons.nmf_title")}</h3>
            <p class="muted">{move || tr("neurons.nmf_intro")}</p>
            <div class="nmf-controls">
                <WholeSlider
                    label="neurons.factors"
                    value=count
                    min=2
                    max=18
                    step=1
                    testid="nmf-factors"
                    live=true
                />
                <WholeSlider
                    label="neurons.first_layer"
                    value=first
                    min=1
                    max=n_layer
                    step=1
                    testid="nmf-first"
                />
                <WholeSlider
                    label="neurons.last_layer"
                    value=last
                    min=1
                    max=n_layer
                    step=1
                    testid="nmf-last"
                />
            </div>
            {move || match found.value() {
                None => {
                    view! { <p class="muted">{move || tr("neurons.nmf_computing")}</p> }.into_any()
                }
                Some((factors, ms)) => view! { <FactorRows factors ms /> }.into_any(),
            }}
            <LinesCanvas
                series
                testid="nmf-lines"
                caption="neurons.nmf_lines"
                x_name="positions.position"
            />
        </section>
    }
}

/// One row of highlighted tokens per factor, and the fit's numbers.
#[component]
fn FactorRows(factors: NeuronFactors, ms: f64) -> impl IntoView {
    let state = use_state();
    let tokens = untrack(|| state.text.traced_tokens());
    let (first, last) = factors.layers;
    let (iterations, error) = (factors.iterations, factors.relative_error);
    let summary = move || {
        trf(
            "neurons.nmf_summary",
            &[
                ("first", &(first + 1)),
                ("last", &(last + 1)),
                ("error", &format!("{:.1}", 100.0 * error)),
                ("iterations", &iterations),
                ("ms", &format!("{ms:.0}")),
            ],
        )
    };
    view! {
        <p
            class="muted"
            data-testid="nmf-summary"
            data-factors=factors.token_strengths.len().to_string()
            data-error=factors.relative_error.to_string()
        >
            {summary}
        </p>
        {factors
            .token_strengths
            .iter()
            .zip(&factors.top_neurons)
            .enumerate()
            .map(|(i, (strengths, neurons))| {
                let largest = strengths.iter().fold(1e-9f32, |m, &v| m.max(v));
                let colour = head_colour(i);
                let rgb = format!("{}, {}, {}", colour.0, colour.1, colour.2);
                let named = neurons
                    .iter()
                    .take(3)
                    .map(|n| format!("L{}#{}", n.layer + 1, n.neuron))
                    .collect::<Vec<_>>()
                    .join(", ");
                view! {
                    <p class="saliency-text factor-row" data-testid="nmf-factor" data-factor=i.to_string()
                        style:--salient-rgb=rgb>
                        <span class="factor-name" title=named.clone()>
                            <span class="factor-swatch" style:background=css_colour(colour)></span>
                            {move || trf("neurons.factor", &[("factor", &(i + 1))])}
                        </span>
                        {tokens
                            .iter()
                            .zip(strengths)
                            .enumerate()
                            .map(|(index, (token, &value))| {
                                view! {
                                    <span class="salient" data-index=index data-value=value.to_string()
                                        title=format!("{token}: {value:.4}")
                                        style:--share=format!("{:.3}", value / largest)>{token.clone()}</span>
                                }
                            })
                            .collect_view()}
                    </p>
                }
            })
            .collect_view()}
    }
}

/// The size of the residual stream after each block at the query token, and what the block's
/// attention and feed-forward network added to it.
#[component]
fn ResidualStream() -> impl IntoView {
    let state = use_state();
    let series = Signal::derive(move || {
        let Some(trace) = state.text.page_trace() else {
            return Vec::new();
        };
        let token = state.query_token().unwrap_or(0);
        let norms = &trace.residual_norms;
        let at = |rows: &[Vec<f32>]| {
            rows.iter()
                .map(|r| r.get(token).copied().unwrap_or(0.0))
                .collect::<Vec<_>>()
        };
        vec![
            (tr("neurons.stream"), at(&norms.stream[1..])),
            (tr("neurons.attention_adds"), at(&norms.attention)),
            (tr("neurons.feed_forward_adds"), at(&norms.feed_forward)),
        ]
    });
    view! {
        <section class="residual" data-testid="residual">
            <h3>{move || tr("neurons.residual_title")}</h3>
            <p class="muted">{move || tr("neurons.residual_intro")}</p>
            <LinesCanvas
                series
                testid="residual-lines"
                caption="neurons.residual_lines"
                x_name="neurons.block"
                x_from=Signal::stored(1)
            />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{most_active_anywhere, strongest};

    #[test]
    fn the_map_keeps_the_neurons_with_the_highest_peaks() {
        let rows = [vec![0.1, 3.0, -1.0, 0.5], vec![2.0, 0.0, 4.0, 0.4]];
        assert_eq!(most_active_anywhere(&rows, 3), [2, 1, 0]);
    }

    #[test]
    fn the_strongest_neurons_come_first() {
        assert_eq!(strongest(&[0.1, 2.0, -1.0, 0.5], 2), [(1, 2.0), (3, 0.5)]);
        assert_eq!(strongest(&[0.3], 5), [(0, 0.3)]);
    }
}
