//! Predictions: GPT-2's next-token candidates (temperature re-scores the traced logits; top-k
//! and top-p show which can be drawn; click or sample to append), [MASK] fills as completed
//! sentences for masked LMs, and the logit lens.
use leptos::prelude::*;

use super::analyses::{self, predict_request, prediction_result, PredictionResult};
use super::lab::BeforeAfter;
use super::saliency::SalientTokens;
use crate::client::{self, Owned};
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState, GeneratedToken};
use crate::widgets::BarChart;
use ae_charts::Bar;
use ae_messages::{
    Candidate, PositionPredictions, Predictions as ModelPredictions, SamplingSettings,
};

/// The panel; it owns its predictions and logit lens, asked again whenever the trace, the
/// sampling settings or the pinned token change.
#[component]
pub fn Predictions() -> impl IntoView {
    let state = use_state();
    let predictions = analyses::predictions(state);
    let generation = Generation::new();
    generation.draw_when_traced(state, predictions);
    let has_head = move || state.model.read(None, |c| Some(c.has_prediction_head));
    let waiting = move || {
        // A failed request says so in the banner; the panel then stops saying "computing".
        let failed = predictions.current().is_some_and(|r| r.is_err());
        let key = if state.text.is_traced() && !failed {
            "input.computing"
        } else {
            "predictions.empty"
        };
        view! {
            <p class="muted" data-testid="predictions-waiting">
                {move || tr(key)}
            </p>
        }
    };
    // New sampling settings re-score the same trace: the controls stay while they come.
    let shown = move || match analyses::for_this_trace(state, predictions) {
        None => waiting().into_any(),
        Some(result) => match result.predictions.clone() {
            ModelPredictions::NextToken(next) => {
                view! { <NextToken next=next result=result /> }.into_any()
            }
            ModelPredictions::MaskFill(fills) => view! { <MaskFills fills=fills /> }.into_any(),
        },
    };
    view! {
        <h2>{move || tr("panel.predictions")}</h2>
        {move || match has_head() {
            None => view! { <p class="muted">{move || tr("predictions.load_first")}</p> }.into_any(),
            Some(false) => {
                view! {
                    <p class="notice" data-testid="no-head">
                        {move || tr("predictions.no_head")}
                    </p>
                }
                    .into_any()
            }
            Some(true) => {
                view! {
                    <BeforeAfter />
                    {shown}
                    <Show when=move || state.model.read(false, |c| c.causal)>
                        <DrawTokens generation=generation />
                    </Show>
                    <MaskControl />
                    <LogitLensTable />
                }
                    .into_any()
            }
        }}
    }
}

/// Temperature, top-k, top-p and seed.
#[component]
fn SamplingControls() -> impl IntoView {
    let state = use_state();
    let sampling = state.settings.sampling;
    let number = |ev: &leptos::ev::Event| {
        event_target_value(ev)
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
    };
    view! {
        <fieldset class="chart-options" data-testid="sampling">
            <legend>{move || tr("predictions.sampling")}</legend>
            <label>
                {move || format!("{} ", tr("predictions.temperature"))}
                <input
                    type="range"
                    min="0.1"
                    max="3"
                    step="0.1"
                    data-testid="temperature"
                    prop:value=move || sampling.get().temperature.to_string()
                    on:input=move |ev| {
                        if let Some(t) = number(&ev) {
                            sampling.update(|s| s.temperature = (t as f32).clamp(0.1, 3.0))
                        }
                    }
                /> {move || format!(" {:.1}", sampling.get().temperature)}
            </label>
            <label>
                "top-k "
                <input
                    type="number"
                    min="1"
                    max="1000"
                    data-testid="top-k"
                    class="narrow"
                    prop:value=move || sampling.get().top_k.to_string()
                    on:change=move |ev| {
                        if let Some(k) = number(&ev) {
                            sampling.update(|s| s.top_k = (k as usize).clamp(1, 1000))
                        }
                    }
                />
            </label>
            <label>
                "top-p "
                <input
                    type="range"
                    min="0.05"
                    max="1"
                    step="0.05"
                    data-testid="top-p"
                    prop:value=move || sampling.get().top_p.to_string()
                    on:input=move |ev| {
                        if let Some(p) = number(&ev) {
                            sampling.update(|s| s.top_p = (p as f32).clamp(0.05, 1.0))
                        }
                    }
                /> {move || format!(" {:.2}", sampling.get().top_p)}
            </label>
            <label>
                {move || format!("{} ", tr("predictions.seed"))}
                <input
                    type="number"
                    min="0"
                    data-testid="seed"
                    class="narrow"
                    prop:value=move || state.settings.seed.get().to_string()
                    on:change=move |ev| {
                        if let Some(seed) = number(&ev) {
                            state.settings.seed.set(seed.max(0.0) as u64)
                        }
                    }
                />
            </label>
        </fieldset>
    }
}

/// Draws the next token with the sampling settings (seeded by the step, so a link draws the
/// same tokens) and appends it, which re-traces the text; whether a token was appended.
async fn draw_and_append(state: AppState) -> bool {
    let step = state.text.generated.with_untracked(|g| g.len()) as u64;
    let seed = state.settings.seed.get_untracked() + step;
    let settings = state.settings.sampling.get_untracked();
    let asked = client::request(predict_request(state, settings, Some(seed), false));
    let sampled = asked
        .await
        .ok()
        .and_then(|answer| prediction_result(answer.response))
        .and_then(|result| result.sampled);
    match sampled {
        Some(token) => {
            state.text.append_generated(token);
            true
        }
        None => false,
    }
}

/// Most tokens one "Generate" draws.
const MAX_GENERATED: usize = 200;

/// Generating several tokens: each is drawn once the text with the one before it is traced
/// and its predictions have come, so the timeline and every panel show the tokens as they
/// come, and Stop ends it between two tokens.
#[derive(Clone, Copy)]
struct Generation {
    /// How many tokens "Generate" draws.
    count: RwSignal<usize>,
    /// Tokens still to draw; 0 when not generating.
    remaining: RwSignal<usize>,
    /// A draw is on its way.
    drawing: StoredValue<bool>,
}

impl Generation {
    fn new() -> Self {
        Generation {
            count: RwSignal::new(20),
            remaining: RwSignal::new(0),
            drawing: StoredValue::new(false),
        }
    }

    /// Draws the next token whenever the current text's trace and next-token predictions are
    /// there and tokens remain.
    fn draw_when_traced(
        self,
        state: AppState,
        predictions: Owned<(u32, SamplingSettings), PredictionResult>,
    ) {
        Effect::new(move |_| {
            let predicted = predictions
                .value()
                .is_some_and(|result| matches!(result.predictions, ModelPredictions::NextToken(_)));
            let ready = predicted && state.text.is_traced_now();
            if !ready || self.remaining.get() == 0 || self.drawing.get_value() {
                return;
            }
            self.drawing.set_value(true);
            leptos::task::spawn_local(async move {
                let appended = draw_and_append(state).await;
                self.drawing.set_value(false);
                match appended {
                    true => self.remaining.update(|r| *r = r.saturating_sub(1)),
                    false => self.remaining.set(0),
                }
            });
        });
    }
}

/// "Generate [20] tokens", or "Stop (7 left)" while generating.
#[component]
fn GenerateControls(generation: Generation) -> impl IntoView {
    let Generation {
        count, remaining, ..
    } = generation;
    view! {
        <Show
            when=move || remaining.get() != 0
            fallback=move || {
                view! {
                    <label>
                        {move || format!("{} ", tr("predictions.generate_count"))}
                        <input
                            type="number"
                            min="1"
                            max=MAX_GENERATED.to_string()
                            class="narrow"
                            data-testid="generate-count"
                            prop:value=move || count.get().to_string()
                            on:change=move |ev| {
                                if let Ok(n) = event_target_value(&ev).trim().parse::<usize>() {
                                    count.set(n.clamp(1, MAX_GENERATED))
                                }
                            }
                        />
                    </label>
                    " "
                    <button data-testid="generate" on:click=move |_| remaining.set(count.get())>
                        {move || trf("predictions.generate", &[("count", &count.get())])}
                    </button>
                }
            }
        >
            <button data-testid="generate-stop" on:click=move |_| remaining.set(0)>
                {move || trf("predictions.generate_stop", &[("left", &remaining.get())])}
            </button>
        </Show>
    }
}

/// Sampling one token, generating several, and the timeline of the appended tokens. Not part
/// of the candidates, which are drawn anew for every trace: the buttons stay where they are
/// while tokens come.
#[component]
fn DrawTokens(generation: Generation) -> impl IntoView {
    let state = use_state();
    // A draw is an action, not a view: its answer appends the token, which re-traces the text.
    let sample = move |_: leptos::ev::MouseEvent| {
        leptos::task::spawn_local(async move {
            draw_and_append(state).await;
        });
    };
    view! {
        <p>
            <button data-testid="sample" on:click=sample>
                {move || tr("predictions.sample")}
            </button>
            " "
            <GenerateControls generation=generation />
            <span class="muted">{move || format!(" {}", tr("predictions.sample_explain"))}</span>
        </p>
        <GenerationTimeline />
    }
}

/// GPT-2's next-token candidates.
#[component]
fn NextToken(next: PositionPredictions, result: PredictionResult) -> impl IntoView {
    let state = use_state();
    let survivors = Signal::stored(result.survivors.unwrap_or(0));
    let reused = move || result.reused_logits;
    let after = untrack(|| {
        state
            .text
            .with_tokens(|t| t.and_then(|t| t.tokens.get(next.position).cloned()))
    })
    .unwrap_or_default();
    let candidates = next.candidates.clone();
    let bars = Signal::derive(move || {
        let survivors = survivors.get();
        candidates
            .iter()
            .enumerate()
            .map(|(rank, c)| Bar {
                label: c.token.clone(),
                value: c.probability,
                active: rank < survivors,
            })
            .collect::<Vec<_>>()
    });
    let list = next
        .candidates
        .iter()
        .enumerate()
        .map(move |(rank, candidate)| {
            let candidate = candidate.clone();
            let shown = candidate.clone();
            view! {
                <li class:filtered=move || {
                    let filtered: bool = rank >= survivors.get();
                    filtered
                }>
                    <button
                        data-testid="candidate"
                        data-token-id=candidate.token_id.to_string()
                        data-probability=candidate.probability.to_string()
                        data-survives=move || (rank < survivors.get()).to_string()
                        title=move || tr("predictions.append_title")
                        on:click=move |_| state.text.append_generated(candidate.clone())
                    >
                        <span class="token-text">{shown.token.clone()}</span>
                        <span class="num">{format!("{:.4}", shown.probability)}</span>
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <p>
            {move || trf(
                "predictions.next_explain",
                &[("token", &after), ("position", &next.position)],
            )}
            <span
                class="muted"
                data-testid="reused-logits"
                data-reused=move || reused().to_string()
            >
                {move || {
                    if reused() { format!(" {}", tr("predictions.reused")) } else { String::new() }
                }}
            </span>
        </p>
        <SamplingControls />
        <p class="muted" data-testid="survivors" data-count=move || survivors.get().to_string()>
            {move || {
                let s = state.settings.sampling.get();
                trf(
                    "predictions.survivors",
                    &[
                        ("count", &survivors.get()),
                        ("k", &s.top_k),
                        ("p", &format!("{:.2}", s.top_p)),
                    ],
                )
            }}
        </p>
        <div class="chart-row">
            <BarChart bars=bars testid="prediction-bars" value_name="predictions.probability" />
            <ol class="candidates" data-testid="candidates">
                {list}
            </ol>
        </div>
    }
}

/// The appended tokens: hovering one shows the saliency that produced it; clicking one pins it
/// and opens the saliency panel.
#[component]
fn GenerationTimeline() -> impl IntoView {
    let state = use_state();
    let hovering = RwSignal::new(false);
    let saliency = analyses::saliency(state, hovering.into());
    view! {
        <Show when=move || state.text.generated.with(|g| !g.is_empty())>
            <div class="timeline" data-testid="timeline">
                <span class="muted">{move || format!("{} ", tr("predictions.generated"))}</span>
                <For
                    each=move || state.text.generated.get().into_iter().enumerate()
                    key=|(step, generated)| (*step, generated.position, generated.candidate.token_id)
                    let:((step, generated))
                >
                    <GeneratedButton step=step generated=generated hovering=hovering />
                </For>
            </div>
            <Show when=move || hovering.get()>
                <div class="timeline-saliency" data-testid="timeline-saliency">
                    <SalientTokens saliency=saliency />
                </div>
            </Show>
        </Show>
    }
}

/// One appended token: hovering shows the saliency that produced it, a click opens it.
#[component]
fn GeneratedButton(
    step: usize,
    generated: GeneratedToken,
    hovering: RwSignal<bool>,
) -> impl IntoView {
    let state = use_state();
    let target = (
        generated.position.saturating_sub(1),
        generated.candidate.token_id,
    );
    let explain = move || {
        state.selection.saliency_target.set(Some(target));
        hovering.set(true);
    };
    let probability = format!("{:.4}", generated.candidate.probability);
    let title = move || {
        trf(
            "predictions.generated_title",
            &[("step", &(step + 1)), ("p", &probability)],
        )
    };
    let open = move |_| {
        state.selection.pinned.set(Some(target.0 + 1));
        state.selection.saliency_target.set(Some(target));
        state.view.panel.set(crate::state::Panel::Saliency);
    };
    view! {
        <button
            class="token"
            data-testid="generated"
            data-position=generated.position.to_string()
            on:mouseenter=move |_| explain()
            on:focus=move |_| explain()
            on:mouseleave=move |_| hovering.set(false)
            title=title
            on:click=open
        >
            {generated.candidate.token}
        </button>
    }
}

/// Fills for every [MASK], each as the completed sentence.
#[component]
fn MaskFills(fills: Vec<PositionPredictions>) -> impl IntoView {
    let state = use_state();
    let text = state.text.text.get_untracked();
    let offsets =
        untrack(|| state.text.with_tokens(|t| t.map(|t| t.offsets.clone()))).unwrap_or_default();
    fills
        .into_iter()
        .enumerate()
        .map(|(index, fill)| {
            let (start, end) = offsets.get(fill.position).copied().unwrap_or((0, 0));
            let sentences = fill
                .candidates
                .iter()
                .map(|candidate| {
                    let (before, after) = (
                        text.get(..start).unwrap_or(""),
                        text.get(end..).unwrap_or(""),
                    );
                    view! {
                        <li
                            data-testid="fill"
                            data-token-id=candidate.token_id.to_string()
                            data-probability=candidate.probability.to_string()
                        >
                            <span class="num">{format!("{:.4} ", candidate.probability)}</span>
                            {before.to_string()}
                            <mark>{candidate.text.clone()}</mark>
                            {after.to_string()}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <section
                    class="mask-fill"
                    data-testid="mask-fill"
                    data-position=fill.position.to_string()
                >
                    <h3>
                        {move || trf(
                            "predictions.mask_n",
                            &[("n", &(index + 1)), ("position", &fill.position)],
                        )}
                    </h3>
                    <ol>{sentences}</ol>
                </section>
            }
        })
        .collect_view()
}

/// For masked LMs: replace the query token by the mask token.
#[component]
fn MaskControl() -> impl IntoView {
    let state = use_state();
    let mask = move || state.model.read(None, |c| c.mask_token.clone());
    let mask_query = move |_| mask_query_token(state);
    view! {
        <Show when=move || mask().is_some()>
            <p>
                <button data-testid="mask-query" on:click=mask_query>
                    {move || trf(
                        "predictions.mask_query",
                        &[("mask", &mask().unwrap_or_default())],
                    )}
                </button>
                <span class="muted">
                    {move || {
                        format!(
                            " {}",
                            trf(
                                "predictions.mask_explain",
                                &[("mask", &mask().unwrap_or_default())],
                            ),
                        )
                    }}
                </span>
            </p>
        </Show>
    }
}

fn mask_query_token(state: AppState) {
    let Some(mask) = untrack(|| state.model.read(None, |c| c.mask_token.clone())) else {
        return;
    };
    let Some(query) = untrack(|| state.query_token()) else {
        return;
    };
    let range = untrack(|| {
        state
            .text
            .with_tokens(|t| t.filter(|t| !t.special[query]).map(|t| t.offsets[query]))
    });
    if let Some((start, end)) = range {
        state.text.text.update(|text| {
            if text.is_char_boundary(start) && text.is_char_boundary(end) && start < end {
                text.replace_range(start..end, &mask);
            }
        });
        state.selection.pinned.set(None);
    }
}

/// The logit lens: what the model would predict if it stopped after each layer.
#[component]
fn LogitLensTable() -> impl IntoView {
    let state = use_state();
    let lens = analyses::logit_lens(state);
    view! {
        {move || {
            analyses::for_this_trace(state, lens)
                .map(|lens| {
                    let final_token = lens
                        .layers
                        .last()
                        .and_then(|l| l.top.first())
                        .map(|c| c.token.clone())
                        .unwrap_or_default();
                    let rows = lens
                        .layers
                        .iter()
                        .map(|layer| {
                            let name = if layer.layer == 0 {
                                tr("predictions.embeddings")
                            } else {
                                trf("predictions.after_layer", &[("layer", &layer.layer)])
                            };
                            let top = layer
                                .top
                                .iter()
                                .map(|c: &Candidate| format!("{} {:.3}", c.token, c.probability))
                                .collect::<Vec<_>>()
                                .join(" · ");
                            let rank = layer.final_token_rank;
                            let shade = format!("{:.2}", 1.0 / rank as f64);
                            view! {
                                <tr>
                                    <th scope="row">{name}</th>
                                    <td>{top}</td>
                                    <td
                                        class="rank"
                                        style:--rank-shade=shade
                                        data-testid="lens-rank"
                                        data-rank=rank.to_string()
                                    >
                                        {rank}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <section
                            class="lens"
                            data-testid="logit-lens"
                            data-position=lens.position.to_string()
                        >
                            <h3>
                                {move || trf(
                                    "predictions.lens_title",
                                    &[("position", &lens.position)],
                                )}
                            </h3>
                            <p class="muted">
                                {move || trf(
                                    "predictions.lens_explain",
                                    &[("token", &final_token)],
                                )}
                            </p>
                            <div class="table-scroll">
                                <table class="values-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">{move || tr("predictions.residual")}</th>
                                            <th scope="col">{move || tr("predictions.top_tokens")}</th>
                                            <th scope="col">{move || tr("predictions.rank")}</th>
                                        </tr>
                                    </thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            </div>
                        </section>
                    }
                })
        }}
    }
}
