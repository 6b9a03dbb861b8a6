//! Ecco's rankings: where the model's eventual choice (or the token that actually comes next)
//! ranks in every layer's residual stream, read through the final norm and the LM head, at
//! every position; the ranks of words a student watches; and each next token's surprisal,
//! the training loss on this very sentence.
use leptos::prelude::*;

use crate::client::{owned_request, Owned};
use crate::i18n::{current, tr, trf};
use crate::link::word_list;
use crate::state::{use_state, AppState};
use crate::widgets::{ChartCanvas, Pointed, Tooltip};
use ae_charts::RankChart;
use ae_messages::{EngineError, Rankings as TextRankings, Request, Response, MAX_WATCHED_TOKENS};

/// The rankings of the current trace with the watched words.
fn rankings(
    state: AppState,
    watch: Signal<Vec<String>>,
) -> Owned<(u32, Vec<String>), TextRankings> {
    owned_request(
        move || {
            let trace = state
                .has_logits()
                .then(|| state.text.trace_id())
                .flatten()?;
            Some((trace, watch.get()))
        },
        move |(_, watch)| Request::Rankings {
            text: state.text.text.get_untracked(),
            watch: watch.clone(),
        },
        |answer| match answer.response {
            Response::Rankings { rankings } => Some(rankings),
            _ => None,
        },
    )
}

/// A perplexity to read: two decimals while small, whole numbers when large.
fn shown_perplexity(perplexity: f32) -> String {
    if perplexity < 1000.0 {
        format!("{perplexity:.2}")
    } else {
        format!("{perplexity:.0}")
    }
}

/// Row labels: the embeddings, then each layer's output.
fn stream_labels(streams: usize) -> Vec<String> {
    (0..streams)
        .map(|s| match s {
            0 => tr("rankings.embeddings"),
            s => trf("rankings.layer", &[("layer", &s)]),
        })
        .collect()
}

/// The panel.
#[component]
pub fn Rankings() -> impl IntoView {
    let state = use_state();
    // The words asked for; a list over the limit is refused here (and says so) and the last
    // accepted one stays.
    let watch = state.settings.watched;
    let shown_words = untrack(|| watch.get().join(", "));
    let refused = RwSignal::new(None::<EngineError>);
    let type_words = move |typed: String| {
        let words = word_list(&typed);
        if words.len() > MAX_WATCHED_TOKENS {
            refused.set(Some(EngineError::TooManyWatchedTokens {
                given: words.len(),
                max: MAX_WATCHED_TOKENS,
            }));
        } else {
            refused.set(None);
            watch.set(words);
        }
    };
    let next_token = RwSignal::new(false);
    let rankings = rankings(state, watch.into());
    let causal = move || state.model.read(false, |c| c.causal);
    let has_head = move || state.model.read(false, |c| c.has_prediction_head);
    view! {
        <h2>{move || tr("panel.rankings")}</h2>
        <p class="muted">{move || tr("rankings.intro")}</p>
        <Show
            when=has_head
            fallback=|| view! { <p class="notice">{move || tr("rankings.no_head")}</p> }
        >
            <div class="rankings-controls">
                <Show when=causal>
                    <label>
                        <input
                            type="checkbox"
                            data-testid="rankings-next"
                            prop:checked=move || next_token.get()
                            on:change=move |e| next_token.set(event_target_checked(&e))
                        />
                        {move || tr("rankings.next_toggle")}
                    </label>
                </Show>
                <label>
                    {move || tr("rankings.watch")}
                    <input
                        type="text"
                        data-testid="rankings-watch"
                        placeholder=move || tr("rankings.watch_placeholder")
                        prop:value=shown_words.clone()
                        on:change=move |e| type_words(event_target_value(&e))
                    />
                </label>
            </div>
            {move || {
                refused
                    .get()
                    .map(|error| {
                        view! {
                            <p class="notice" data-testid="rankings-watch-error">
                                {move || error.words(current())}
                            </p>
                        }
                    })
            }}
            {move || match rankings.value() {
                Some(found) => view! { <RankingViews found next_token /> }.into_any(),
                None => {
                    let failed = rankings.current().and_then(|r| r.err());
                    match failed {
                        Some(failure) => {
                            view! {
                                <p class="notice" data-testid="rankings-error">
                                    {move || failure.describe()}
                                </p>
                            }
                                .into_any()
                        }
                        None => {
                            view! { <p class="muted">{move || tr("rankings.computing")}</p> }
                                .into_any()
                        }
                    }
                }
            }}
        </Show>
    }
}

/// The grid, the watched words at the pinned position and the surprisal.
#[component]
fn RankingViews(found: TextRankings, next_token: RwSignal<bool>) -> impl IntoView {
    let state = use_state();
    let tokens = untrack(|| state.text.traced_tokens());
    let vocabulary = untrack(|| state.model.read(2, |c| c.vocab_size));
    let streams = found.prediction_ranks.len();
    let grid_found = found.clone();
    let grid_tokens = tokens.clone();
    let grid = Memo::new(move |_| {
        let next = next_token.get();
        let ranks = match (&grid_found.next_token_ranks, next) {
            (Some(ranks), true) => ranks,
            _ => &grid_found.prediction_ranks,
        };
        let columns = ranks.first().map_or(0, Vec::len);
        Some(RankChart {
            ranks: ranks.iter().flatten().copied().collect(),
            row_labels: stream_labels(streams),
            column_labels: grid_tokens[..columns.min(grid_tokens.len())].to_vec(),
            vocabulary,
            rank_word: tr("rankings.rank"),
            title: tr(if next {
                "rankings.next_title"
            } else {
                "rankings.prediction_title"
            }),
            corner: tr("rankings.corner"),
        })
    });
    let tip_found = found.clone();
    let tip_tokens = tokens.clone();
    let tooltip = Callback::new(move |(chart, cell): (RankChart, Pointed)| {
        let rank = chart.rank(cell.row, cell.column)?;
        let ranked = if next_token.get_untracked() {
            tip_tokens.get(cell.column + 1).cloned().unwrap_or_default()
        } else {
            tip_found.predicted.get(cell.column)?.token.clone()
        };
        Some(Tooltip {
            text: trf(
                "rankings.tooltip",
                &[
                    ("stream", &chart.row_labels[cell.row]),
                    ("position", &cell.column),
                    ("token", &ranked),
                ],
            ),
            value: rank.to_string(),
            note: String::new(),
            data: vec![
                ("data-row", cell.row.to_string()),
                ("data-column", cell.column.to_string()),
                ("data-value", rank.to_string()),
            ],
        })
    });
    let data = Callback::new(|(chart, _): (RankChart, _)| {
        vec![
            (
                "data-shape",
                format!("{} {}", chart.row_labels.len(), chart.column_labels.len()),
            ),
            (
                "data-ranks",
                chart
                    .ranks
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ]
    });
    let predicted = found
        .predicted
        .iter()
        .map(|p| p.token.clone())
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <figure class="rankings">
            <figcaption>
                {move || tr(
                    if next_token.get() {
                        "rankings.next_title"
                    } else {
                        "rankings.prediction_title"
                    },
                )}
            </figcaption>
            <ChartCanvas
                chart=grid
                max_width=900
                testid="rankings-grid"
                label=Signal::derive(move || tr("rankings.grid_label"))
                file_name=Signal::stored("rankings".to_string())
                data=data
                tooltip=tooltip
            />
            <p class="muted" data-testid="rankings-predicted">
                {move || tr("rankings.predicted")}
                " "
                {predicted.clone()}
            </p>
        </figure>
        <WatchedGrid found=found.clone() />
        <Surprisal found tokens />
    }
}

/// The watched words' ranks in every stream at the pinned position (default: the last).
#[component]
fn WatchedGrid(found: TextRankings) -> impl IntoView {
    let state = use_state();
    let vocabulary = untrack(|| state.model.read(2, |c| c.vocab_size));
    let watched = found.watched.clone();
    let position = move || state.query_token().unwrap_or(0);
    let chart = Memo::new(move |_| {
        if watched.is_empty() {
            return None;
        }
        let position = position();
        let streams = watched[0].ranks.len();
        let ranks = (0..streams)
            .flat_map(|s| {
                watched
                    .iter()
                    .map(move |w| w.ranks[s].get(position).copied().unwrap_or(0))
            })
            .collect();
        Some(RankChart {
            ranks,
            row_labels: stream_labels(streams),
            column_labels: watched.iter().map(|w| w.token.token.clone()).collect(),
            vocabulary,
            rank_word: tr("rankings.rank"),
            title: trf("rankings.watch_title", &[("position", &position)]),
            corner: tr("rankings.corner_watch"),
        })
    });
    let data = Callback::new(|(chart, _): (RankChart, _)| {
        vec![(
            "data-ranks",
            chart
                .ranks
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        )]
    });
    let shown = !found.watched.is_empty();
    view! {
        <Show when=move || shown>
            <figure class="rankings-watch">
                <figcaption>
                    {move || trf("rankings.watch_title", &[("position", &position())])}
                </figcaption>
                <ChartCanvas
                    chart=chart
                    max_width=520
                    testid="rankings-watched"
                    label=Signal::derive(move || tr("rankings.watch_label"))
                    file_name=Signal::stored("rankings-watched".to_string())
                    data=data
                />
            </figure>
        </Show>
    }
}

/// Each next token highlighted by its surprisal, and the text's loss and perplexity.
#[component]
fn Surprisal(found: TextRankings, tokens: Vec<String>) -> impl IntoView {
    let Some(surprisal) = found.surprisal.clone() else {
        return ().into_any();
    };
    let (loss, perplexity) = found.loss_and_perplexity().unwrap_or((0.0, 1.0));
    let largest = surprisal.iter().fold(1e-9f32, |m, &s| m.max(s));
    view! {
        <section class="surprisal" data-testid="surprisal">
            <h3>{move || tr("rankings.surprisal_title")}</h3>
            <p class="muted">{move || tr("rankings.surprisal_intro")}</p>
            <p class="saliency-text" data-testid="surprisal-tokens">
                {tokens
                    .iter()
                    .enumerate()
                    .map(|(index, token)| {
                        match index.checked_sub(1).and_then(|p| surprisal.get(p)) {
                            Some(&nats) => {
                                view! {
                                    <span class="salient" data-index=index data-value=nats.to_string()
                                    title=format!("{token}: {nats:.3} nats = {:.3} bits", nats / std::f32::consts::LN_2)
                                    style:--share=format!("{:.3}", nats / largest)>{token.clone()}</span>
                                }
                                    .into_any()
                            }
                            None => {
                                // Token t is scored at position t − 1; the first has no prediction.
                                view! { <span class="token-plain">{token.clone()}</span> }
                                    .into_any()
                            }
                        }
                    })
                    .collect_view()}
            </p>
            <p
                data-testid="surprisal-loss"
                data-loss=loss.to_string()
                data-perplexity=perplexity.to_string()
            >
                {move || trf(
                    "rankings.loss",
                    &[
                        ("loss", &format!("{loss:.3}")),
                        ("perplexity", &shown_perplexity(perplexity)),
                    ],
                )}
            </p>
        </section>
    }
    .into_any()
}
