//! What each head does over the text: one number per head on a layers × heads map and in a
//! ranked table — a statistic of its attention rows, or the search for the heads in which
//! chosen query tokens attend to a chosen key, with the selected head's chosen rows summed.
//! The numbers come from the trace's attention weights (`ae_charts::heads`), so they follow
//! the lab's interventions like every other panel.
use leptos::prelude::*;

use super::heatmaps::traced;
use super::positions::MatrixCanvas;
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState, HeadSummary};
use crate::widgets::{BarChart, Pointed};
use ae_charts::{
    attention_from_to, head_statistic, ranked_heads, separator_positions, summed_rows, Bar,
    HeadStatistic,
};
use ae_messages::Array;

/// How many heads the ranked table lists.
const RANKED: usize = 8;

/// The search's query positions that exist in a text of `tokens` tokens, and its key if it
/// exists.
fn search_positions(queries: &[usize], key: usize, tokens: usize) -> (Vec<usize>, Option<usize>) {
    let queries = queries.iter().copied().filter(|&q| q < tokens).collect();
    (queries, (key < tokens).then_some(key))
}

/// The summary's [layers, heads] values for the current trace (tracked); `None` without a
/// trace or with nothing to search from.
fn summary_values(state: AppState) -> Option<Array> {
    let (trace, special) = traced(&state)?;
    let tokens = trace.tokens.len();
    match state.settings.head_summary.get() {
        HeadSummary::Statistic(statistic) => {
            let separators = separator_positions(&trace.tokens, &special);
            Some(head_statistic(&trace.attentions, &separators, statistic))
        }
        HeadSummary::Search { queries, key } => {
            let (queries, key) = search_positions(&queries, key, tokens);
            let key = key.filter(|_| !queries.is_empty())?;
            Some(attention_from_to(&trace.attentions, &queries, key))
        }
    }
}

/// The string keys of a choice's name and explanation; `None` is the search.
fn choice_keys(statistic: Option<HeadStatistic>) -> (&'static str, &'static str) {
    match statistic {
        Some(HeadStatistic::Entropy) => ("heads.stat_entropy", "heads.explain_entropy"),
        Some(HeadStatistic::Previous) => ("heads.stat_previous", "heads.explain_previous"),
        Some(HeadStatistic::First) => ("heads.stat_first", "heads.explain_first"),
        Some(HeadStatistic::Own) => ("heads.stat_own", "heads.explain_own"),
        Some(HeadStatistic::Separators) => ("heads.stat_separators", "heads.explain_separators"),
        Some(HeadStatistic::Distance) => ("heads.stat_distance", "heads.explain_distance"),
        None => ("heads.stat_search", "heads.explain_search"),
    }
}

/// The statistic a summary shows; `None` for the search.
fn statistic_of(summary: &HeadSummary) -> Option<HeadStatistic> {
    match summary {
        HeadSummary::Statistic(statistic) => Some(*statistic),
        HeadSummary::Search { .. } => None,
    }
}

/// A token as the search's buttons and captions name it: its text and position.
fn token_name(tokens: &[String], position: usize) -> String {
    let text = tokens.get(position).map_or("", String::as_str);
    format!("“{text}” ({position})")
}

/// The map's caption (tracked).
fn caption(state: AppState) -> String {
    match state.settings.head_summary.get() {
        HeadSummary::Statistic(statistic) => trf(
            "heads.caption",
            &[("statistic", &tr(choice_keys(Some(statistic)).0))],
        ),
        HeadSummary::Search { queries, key } => {
            let tokens = state
                .text
                .page_trace()
                .map(|t| t.tokens.clone())
                .unwrap_or_default();
            let (queries, _) = search_positions(&queries, key, tokens.len());
            let from: Vec<String> = queries.iter().map(|&q| token_name(&tokens, q)).collect();
            trf(
                "heads.search_caption",
                &[
                    ("from", &from.join(", ")),
                    ("to", &token_name(&tokens, key)),
                ],
            )
        }
    }
}

/// The layers' and heads' names (tracked): the axes of every layers × heads map.
pub(crate) fn head_axis_labels(state: AppState) -> (Vec<String>, Vec<String>) {
    let (layers, heads) = state.model.read((0, 0), |c| (c.n_layer, c.n_head));
    let rows = (1..=layers)
        .map(|l| trf("lab.layer", &[("layer", &l)]))
        .collect();
    let columns = (1..=heads)
        .map(|h| trf("step.head_n", &[("head", &h)]))
        .collect();
    (rows, columns)
}

/// Shows `layer`, `head` in every panel.
pub(crate) fn select_head(state: AppState, layer: usize, head: usize) {
    state.selection.layer.set(layer);
    state.selection.head.set(head);
    state.settings.heatmap.update(|o| {
        o.average_heads = false;
        o.rollout = false;
    });
}

/// The section: the choice, the map, the ranked heads and, when searching, the summed rows.
#[component]
pub fn HeadSummaryView() -> impl IntoView {
    let state = use_state();
    let values = Signal::derive(move || summary_values(state));
    let labels = Signal::derive(move || head_axis_labels(state));
    let on_click = Callback::new(move |cell: Pointed| select_head(state, cell.row, cell.column));
    let searching = move || state.settings.head_summary.with(statistic_of).is_none();
    view! {
        <section class="lab-summary" data-testid="head-summary">
            <h3>{move || tr("heads.title")}</h3>
            <p class="muted">{move || tr("heads.explain")}</p>
            <SummaryChoice />
            <Show when=searching>
                <SearchTokens />
            </Show>
            <p class="muted" data-testid="head-stat-explain">
                {move || tr(choice_keys(state.settings.head_summary.with(statistic_of)).1)}
            </p>
            {move || {
                values
                    .with(Option::is_none)
                    .then(|| view! { <p class="notice">{move || tr("heads.search_empty")}</p> })
            }}
            <Show when=move || values.with(Option::is_some)>
                <div class="chart-row">
                    <MatrixCanvas
                        values
                        testid="head-summary-map"
                        caption=Signal::derive(move || caption(state))
                        row_name="lab.layer_axis"
                        column_name="lab.head_axis"
                        fixed_limit=None
                        labels
                        on_click
                        from_zero=true
                    />
                    <RankedHeads values />
                </div>
            </Show>
            <Show when=searching>
                <SummedRows />
            </Show>
        </section>
    }
}

/// The statistic (or the search) the map shows.
#[component]
fn SummaryChoice() -> impl IntoView {
    let state = use_state();
    let summary = state.settings.head_summary;
    let chosen = move || {
        summary
            .with(statistic_of)
            .map_or("search", HeadStatistic::name)
    };
    let choose = move |name: String| {
        let choice = match HeadStatistic::parse(&name) {
            Some(statistic) => HeadSummary::Statistic(statistic),
            // From the hovered or pinned token (else the last) to the first token.
            None => {
                let last = state.text.token_count().saturating_sub(1);
                let query = state.selection.highlighted_token().unwrap_or(last);
                HeadSummary::Search {
                    queries: vec![query],
                    key: 0,
                }
            }
        };
        summary.set(choice);
    };
    let options = HeadStatistic::ALL
        .into_iter()
        .map(Some)
        .chain([None])
        .map(|statistic| {
            let name = statistic.map_or("search", HeadStatistic::name);
            view! {
                <option value=name selected=move || chosen() == name>
                    {move || tr(choice_keys(statistic).0)}
                </option>
            }
        })
        .collect_view();
    view! {
        <label>
            {move || format!("{} ", tr("heads.choose"))}
            <select
                data-testid="head-stat"
                prop:value=chosen
                on:change=move |ev| choose(event_target_value(&ev))
            >
                {options}
            </select>
        </label>
    }
}

/// The search's query tokens (several) and key token (one), as buttons over the text.
#[component]
fn SearchTokens() -> impl IntoView {
    let state = use_state();
    let summary = state.settings.head_summary;
    let tokens = move || {
        state
            .text
            .page_trace()
            .map(|t| t.tokens.clone())
            .unwrap_or_default()
    };
    let is = move |check: &dyn Fn(&[usize], usize) -> bool| match summary.get() {
        HeadSummary::Search { queries, key } => check(&queries, key),
        HeadSummary::Statistic(_) => false,
    };
    let toggle_query = move |position: usize| {
        summary.update(|s| {
            if let HeadSummary::Search { queries, .. } = s {
                match queries.iter().position(|&q| q == position) {
                    Some(at) => {
                        queries.remove(at);
                    }
                    None => {
                        queries.push(position);
                        queries.sort_unstable();
                    }
                }
            }
        })
    };
    let set_key = move |position: usize| {
        summary.update(|s| {
            if let HeadSummary::Search { key, .. } = s {
                *key = position;
            }
        })
    };
    let row = move |end: &'static str| {
        tokens()
            .into_iter()
            .enumerate()
            .map(|(position, text)| {
                let pressed = move || match end {
                    "from" => is(&|queries, _| queries.contains(&position)),
                    _ => is(&|_, key| key == position),
                };
                view! {
                    <button
                        class="search-token"
                        data-testid=format!("search-{end}")
                        data-position=position
                        aria-pressed=move || pressed().to_string()
                        on:click=move |_| match end {
                            "from" => toggle_query(position),
                            _ => set_key(position),
                        }
                    >
                        {text}
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <div class="search-tokens" role="group" aria-label=move || tr("heads.search_from")>
            <span>{move || tr("heads.search_from")}</span>
            {move || row("from")}
        </div>
        <div class="search-tokens" role="group" aria-label=move || tr("heads.search_to")>
            <span>{move || tr("heads.search_to")}</span>
            {move || row("to")}
        </div>
    }
}

/// The heads with the largest values, highest first; a click shows the head.
#[component]
pub(crate) fn RankedHeads(
    values: Signal<Option<Array>>,
    /// The rows' test id.
    #[prop(default = "head-ranked")]
    testid: &'static str,
) -> impl IntoView {
    let state = use_state();
    let rows = move || {
        let ranked = values
            .with(|v| v.as_ref().map(ranked_heads))
            .unwrap_or_default();
        ranked
            .into_iter()
            .take(RANKED)
            .enumerate()
            .map(|(rank, (layer, head, value))| {
                view! {
                    <tr
                        data-testid=testid
                        data-layer=layer
                        data-head=head
                        data-value=value.to_string()
                    >
                        <td class="num">{rank + 1}</td>
                        <td>
                            <button on:click=move |_| select_head(
                                state,
                                layer,
                                head,
                            )>
                                {move || trf(
                                    "heatmaps.title_head",
                                    &[("layer", &(layer + 1)), ("head", &(head + 1))],
                                )}
                            </button>
                        </td>
                        <td class="num">{format!("{value:.3}")}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <table class="ranked-heads">
            <caption>{move || tr("heads.ranked")}</caption>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The selected head's rows of the chosen query tokens, summed over each key.
#[component]
fn SummedRows() -> impl IntoView {
    let state = use_state();
    let bars = Signal::derive(move || {
        let Some((trace, _)) = traced(&state) else {
            return Vec::new();
        };
        let HeadSummary::Search { queries, key } = state.settings.head_summary.get() else {
            return Vec::new();
        };
        let (queries, _) = search_positions(&queries, key, trace.tokens.len());
        let (layer, head) = (state.selection.layer.get(), state.selection.head.get());
        summed_rows(&trace.attentions, layer, head, &queries)
            .into_iter()
            .enumerate()
            .map(|(position, value)| Bar {
                label: token_name(&trace.tokens, position),
                value,
                active: true,
            })
            .collect()
    });
    let title = move || {
        trf(
            "heads.summed_title",
            &[
                ("layer", &(state.selection.layer.get() + 1)),
                ("head", &(state.selection.head.get() + 1)),
            ],
        )
    };
    view! {
        <figure class="summed-rows">
            <figcaption>{title}</figcaption>
            <BarChart bars testid="head-summed-rows" value_name="chart.weight" />
        </figure>
    }
}
