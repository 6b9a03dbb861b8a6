//! An encoder–decoder's panel: the text box holds the source, this panel the target so far.
//! The model writes a target (greedy or beam search) that can be replayed token by token with
//! its cross-attention growing row by row; a selector shows the encoder's self-attention, the
//! decoder's (causal) self-attention or the cross-attention (target × source) of any layer and
//! head, whose heads can be switched off (the lab's, `TextState::lab`); a pinned target
//! position shows what it attends to and its saliency over both sides.
use std::sync::Arc;

use leptos::prelude::*;

use super::heatmaps::{
    head_lines_chart, heatmap_tooltip, HeadLinesFigure, OverviewGrid, ThumbnailButton, ValuesTable,
};
use super::positions::{LinesCanvas, MatrixCanvas};
use super::step_through::{BlockNumbers, HeadNumbers, Stepper};
use crate::client::{self, owned_request};
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState};
use crate::widgets::{BarChart, ChartCanvas, HeadShortcuts, HeadSwitchTable, IndexSelect, Pointed};
use ae_charts::{AttentionGrid, Bar, HeadLinesChart, HeatmapChart, Highlight, ThumbnailChart};
use ae_messages::{
    toggle_head, Array, AttentionKind, Decoding, EncoderDecoderTrace, HeadId, Request, Response,
    StackTrace, MAX_BEAM_WIDTH,
};

/// The most target tokens the translate button asks for.
const MAX_WRITTEN_TOKENS: usize = 48;
/// Milliseconds between the tokens of a replayed target.
const REPLAY_STEP_MS: i32 = 600;

/// The panel.
#[component]
pub fn Translation() -> impl IntoView {
    let state = use_state();
    let failure = move || {
        state.translation.failure().map(|f| {
            view! {
                <p class="error" data-testid="translation-error">
                    {f.describe()}
                </p>
            }
        })
    };
    view! {
        <h2>{move || tr("translation.title")}</h2>
        <p class="explain">{move || tr("translation.explain")}</p>
        <WriteTarget />
        {failure}
        <Show
            when=move || state.translation.trace().is_some()
            fallback=|| view! { <p class="muted">{move || tr("translation.empty")}</p> }
        >
            <TargetTokens />
            <AttentionChoice />
            <PairHeatmap />
            <PairOverview />
            <PairHeadSwitches />
            <PairLines />
            <PinnedTarget />
            <PairStepThrough />
            <PairPositions />
        </Show>
    }
}

/// The target box, the decoding choice, the translate button and the written tokens.
#[component]
fn WriteTarget() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let beams = RwSignal::new(1usize);
    let typed = move |ev| {
        t.written.set(None);
        t.revealed.set(None);
        t.pinned.set(None);
        t.target.set(event_target_value(&ev));
    };
    let translate = move |_| translate(state, beams.get_untracked());
    let replay = move |_| replay(state);
    let decoding_name = |width: usize| match width {
        1 => tr("translation.greedy"),
        width => trf("translation.beam", &[("width", &width)]),
    };
    view! {
        <div class="target-row">
            <label for="target">{move || tr("translation.target")}</label>
            <input
                id="target"
                type="text"
                data-testid="target"
                prop:value=move || t.target.get()
                on:input=typed
            />
            <label>
                {move || format!("{} ", tr("translation.decoding"))}
                <select
                    data-testid="decoding"
                    on:change=move |ev| beams.set(event_target_value(&ev).parse().unwrap_or(1))
                    prop:value=move || beams.get().to_string()
                >
                    {move || {
                        (1..=MAX_BEAM_WIDTH)
                            .map(|w| {
                                view! { <option value=w.to_string()>{decoding_name(w)}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <button data-testid="translate" on:click=translate>
                {move || tr("translation.translate")}
            </button>
            <Show when=move || t.written.with(Option::is_some)>
                <button data-testid="replay" on:click=replay>
                    {move || tr("translation.replay")}
                </button>
            </Show>
        </div>
        <WrittenTokens />
    }
}

/// Asks the model to write a target for the text box's source; the answer becomes the target
/// and is replayed.
fn translate(state: AppState, beams: usize) {
    let decoding = match beams {
        1 => Decoding::Greedy,
        width => Decoding::Beam { width },
    };
    let asked = client::request(Request::Generate {
        source: state.text.text.get_untracked(),
        max_tokens: MAX_WRITTEN_TOKENS,
        decoding,
        lab: state.text.lab.with_untracked(|lab| lab.for_model(true)),
    });
    leptos::task::spawn_local(async move {
        match asked.await {
            Ok(answer) => {
                if let Response::Generation { generation } = answer.response {
                    let t = state.translation;
                    t.pinned.try_set(None);
                    t.target.try_set(generation.text.clone());
                    t.written.try_set(Some(generation));
                    replay(state);
                }
            }
            Err(failure) => state.view.report(failure),
        }
    });
}

/// Shows the written target's rows one token at a time: row k of the decoder's attentions is
/// what the model computed when it wrote token k (the decoder is causal).
fn replay(state: AppState) {
    let t = state.translation;
    let Some(count) = t
        .written
        .with_untracked(|w| w.as_ref().map(|w| w.ids.len()))
    else {
        return;
    };
    leptos::task::spawn_local(async move {
        for shown in 1..=count {
            if t.revealed.try_set(Some(shown)).is_some() {
                return;
            }
            crate::clock::sleep_ms(REPLAY_STEP_MS).await;
        }
        t.revealed.try_set(None);
    });
}

/// The written tokens with the probability each had when it was chosen.
#[component]
fn WrittenTokens() -> impl IntoView {
    let t = use_state().translation;
    let chips = move || {
        t.written.with(|written| {
            let Some(written) = written else {
                return Vec::new();
            };
            let written_ids = written.ids.iter().skip(1);
            written.tokens[1..]
                .iter()
                .zip(written_ids)
                .zip(&written.log_probabilities)
                .enumerate()
                .map(|(i, ((token, id), lp))| (i, token.clone(), *id, lp.exp()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <ol class="written" data-testid="written" aria-label=move || tr("translation.written")>
            {move || {
                chips()
                    .into_iter()
                    .map(|(i, token, id, probability)| {
                        view! {
                            <li
                                data-testid="written-token"
                                data-index=i
                                data-id=id
                                data-probability=probability.to_string()
                                title=move || {
                                    trf(
                                        "translation.written_title",
                                        &[("percent", &format!("{:.1}", probability * 100.0))],
                                    )
                                }
                                on:click=move |_| t.pinned.set(Some(i))
                            >
                                {token}
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ol>
    }
}

/// The target's tokens as chips (the source's are under the text box); click pins one.
#[component]
fn TargetTokens() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let tokens = move || {
        t.trace()
            .map(|trace| trace.target.tokens.clone())
            .unwrap_or_default()
    };
    view! {
        <div class="tokens target-tokens" data-testid="target-tokens">
            <span class="row-name">{move || tr("translation.target_tokens")}</span>
            {move || {
                tokens()
                    .into_iter()
                    .enumerate()
                    .map(|(i, token)| {
                        let toggle = move |_| {
                            t.pinned.update(|p| *p = if *p == Some(i) { None } else { Some(i) })
                        };
                        view! {
                            <span
                                class="token"
                                role="button"
                                tabindex="0"
                                data-testid="target-token"
                                data-index=i
                                class:pinned=move || t.pinned.get() == Some(i)
                                on:click=toggle
                            >
                                {token}
                            </span>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// Encoder self / decoder self / cross, and the layer and head (the stack's own counts).
#[component]
fn AttentionChoice() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let kinds = [
        (
            AttentionKind::EncoderSelf,
            "encoder",
            "translation.kind_encoder",
        ),
        (
            AttentionKind::DecoderSelf,
            "decoder",
            "translation.kind_decoder",
        ),
        (AttentionKind::Cross, "cross", "translation.kind_cross"),
    ];
    let radio = move |(kind, id, label): (AttentionKind, &'static str, &'static str)| {
        view! {
            <label>
                <input
                    type="radio"
                    name="attention-kind"
                    data-testid=format!("kind-{id}")
                    prop:checked=move || t.kind.get() == kind
                    on:change=move |_| t.kind.set(kind)
                />
                {move || tr(label)}
            </label>
        }
    };
    let (layers, heads) = (
        Signal::derive(move || stack_shape(state).0),
        Signal::derive(move || stack_shape(state).1),
    );
    view! {
        <fieldset class="chart-options" data-testid="attention-kind">
            <legend>{move || tr("translation.kind")}</legend>
            {kinds.into_iter().map(radio).collect_view()}
            <IndexSelect
                label="input.layer"
                value=t.layer
                count=layers
                locked=Signal::stored(false)
                testid="pair-layer"
            />
            <IndexSelect
                label="input.head"
                value=t.head
                count=heads
                locked=Signal::stored(false)
                testid="pair-head"
            />
        </fieldset>
    }
}

/// Layers and heads of the stack the shown attention belongs to (tracked).
fn stack_shape(state: AppState) -> (usize, usize) {
    state.model.read((0, 0), |card| {
        match (state.translation.kind.get(), &card.decoder) {
            (AttentionKind::EncoderSelf, _) | (_, None) => (card.n_layer, card.n_head),
            (_, Some(decoder)) => (decoder.n_layer, decoder.n_head),
        }
    })
}

/// The shown attention's weights, token labels and masked cells: rows × columns, the rows cut
/// to the replayed target's first tokens.
fn pair_grid(trace: &EncoderDecoderTrace, state: AppState) -> Option<AttentionGrid> {
    let t = state.translation;
    grid_at(
        trace,
        t.kind.get(),
        t.layer.get(),
        t.head.get(),
        t.revealed.get(),
    )
}

/// The grid of `kind` at `layer` and `head` (clamped to the stack's), its rows cut to the first
/// `revealed` target tokens while a written target replays.
fn grid_at(
    trace: &EncoderDecoderTrace,
    kind: AttentionKind,
    layer: usize,
    head: usize,
    revealed: Option<usize>,
) -> Option<AttentionGrid> {
    let (attentions, rows, columns) = match kind {
        AttentionKind::EncoderSelf => (
            &trace.source.attentions,
            &trace.source.tokens,
            &trace.source.tokens,
        ),
        AttentionKind::DecoderSelf => (
            &trace.target.attentions,
            &trace.target.tokens,
            &trace.target.tokens,
        ),
        AttentionKind::Cross => (
            &trace.cross_attentions,
            &trace.target.tokens,
            &trace.source.tokens,
        ),
    };
    let [layers, heads, _, n_columns] = attentions.dims()?;
    let (layer, head) = (layer.min(layers - 1), head.min(heads - 1));
    let weights = attentions.block(&[layer, head])?;
    let shown_rows = match (kind, revealed) {
        (AttentionKind::EncoderSelf, _) | (_, None) => rows.len(),
        (_, Some(revealed)) => revealed.min(rows.len()),
    };
    let shown_columns = if kind == AttentionKind::DecoderSelf {
        shown_rows
    } else {
        n_columns
    };
    let shown: Vec<f32> = (0..shown_rows)
        .flat_map(|row| weights[row * n_columns..row * n_columns + shown_columns].to_vec())
        .collect();
    let visible = &trace.source_visible;
    let masked = move |row: usize, column: usize| match kind {
        AttentionKind::DecoderSelf => column > row,
        _ => !visible.get(column).copied().unwrap_or(true),
    };
    AttentionGrid::of_matrix(
        &shown,
        rows[..shown_rows].to_vec(),
        columns[..shown_columns].to_vec(),
        masked,
    )
    .ok()
}

/// The shown attention as a heatmap: exact values on hover, a click pins a target row.
#[component]
fn PairHeatmap() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let chart = Memo::new(move |_| {
        let trace = t.trace()?;
        let grid = pair_grid(&trace, state)?;
        // Rows: the pinned target token (the source token in the encoder); columns: the
        // pinned source token (the source chips under the text box pin it).
        let source = state.selection.pinned.get();
        let highlight = match t.kind.get() {
            AttentionKind::EncoderSelf => Highlight::token(source),
            AttentionKind::DecoderSelf => Highlight::token(t.pinned.get()),
            AttentionKind::Cross => Highlight {
                query: t.pinned.get(),
                key: source,
            },
        };
        Some(HeatmapChart {
            grid,
            highlight,
            weight: tr("chart.weight"),
            masked: tr("chart.masked"),
            title: heatmap_title(state),
            corner: tr("heatmaps.axes"),
        })
    });
    let data = Callback::new(move |(chart, _): (HeatmapChart, _)| {
        vec![
            ("data-kind", format!("{:?}", t.kind.get())),
            ("data-layer", t.layer.get().to_string()),
            ("data-head", t.head.get().to_string()),
            (
                "data-shape",
                format!("{} {}", chart.grid.size(), chart.grid.columns()),
            ),
            (
                "data-highlight-key",
                chart
                    .highlight
                    .key
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
            ),
        ]
    });
    let masked_note = move || match t.kind.get_untracked() {
        AttentionKind::DecoderSelf => "heatmaps.masked_future",
        _ => "translation.masked_padding",
    };
    let tooltip = Callback::new(move |(chart, cell): (HeatmapChart, Pointed)| {
        heatmap_tooltip(&chart.grid, cell, state, masked_note())
    });
    let pin = Callback::new(move |cell: Pointed| {
        if t.kind.get_untracked() != AttentionKind::EncoderSelf {
            t.pinned.set(Some(cell.row));
        }
    });
    let grid = move || chart.with(|c| c.as_ref().map(|c| c.grid.clone()));
    view! {
        <figure class="heatmap">
            <figcaption data-testid="pair-heatmap-title">
                {move || format!("{} — {}", heatmap_title(state), tr("heatmaps.axes"))}
            </figcaption>
            <ChartCanvas
                chart=chart
                max_width=540
                testid="pair-heatmap"
                label=Signal::derive(move || heatmap_title(state))
                file_name=Signal::derive(move || format!("{:?}-attention", t.kind.get()))
                data=data
                tooltip=tooltip
                on_click=pin
            />
            <ValuesTable grid=Signal::derive(grid) />
        </figure>
    }
}

/// Every layer × head of the shown attention as thumbnails (BertViz's model view); a click
/// shows that head.
#[component]
fn PairOverview() -> impl IntoView {
    let state = use_state();
    view! {
        <OverviewGrid
            shape=Signal::derive(move || stack_shape(state))
            explain=None
            testid="pair-overview"
            thumbnail=Callback::new(|(layer, head, size): (usize, usize, u32)| {
                view! { <PairThumbnail layer=layer head=head size=size /> }.into_any()
            })
        />
    }
}

/// Switches for the shown attention's heads, layers × heads: a switched-off head's output is
/// zeroed before its output projection, and every number on the page (the translation too)
/// is then the changed model's; the lab's banner says so.
#[component]
fn PairHeadSwitches() -> impl IntoView {
    let state = use_state();
    let (lab, kind) = (state.text.lab, state.translation.kind);
    let is_off = move |head: HeadId| lab.with(|lab| lab.ablated_of(kind.get()).contains(&head));
    let toggle = move |head: HeadId| {
        lab.update(|lab| toggle_head(lab.ablated_of_mut(kind.get_untracked()), head))
    };
    let set_off = move |heads: Vec<HeadId>| {
        lab.update(|lab| *lab.ablated_of_mut(kind.get_untracked()) = heads)
    };
    let t = state.translation;
    // Rebuilt when the shown attention's stack changes shape.
    let table = move || {
        let (layers, heads) = stack_shape(state);
        view! {
            <HeadSwitchTable
                layers=layers
                heads=heads
                is_off=Callback::new(is_off)
                toggle=Callback::new(toggle)
                testid="pair-head-switch"
            />
            <div class="lab-shortcuts">
                <HeadShortcuts
                    layers=layers
                    heads=heads
                    layer=t.layer.into()
                    head=t.head.into()
                    set_off=Callback::new(set_off)
                    testid="pair"
                />
            </div>
        }
    };
    view! {
        <section class="lab-heads" data-testid="pair-head-switches">
            <h3>{move || trf("translation.heads_off_title", &[("kind", &kind_name(kind.get()))])}</h3>
            <p class="muted">{move || tr("translation.heads_off_explain")}</p>
            {table}
        </section>
    }
}

/// One head's thumbnail button.
#[component]
fn PairThumbnail(layer: usize, head: usize, size: u32) -> impl IntoView {
    let t = use_state().translation;
    let selected = Signal::derive(move || t.layer.get() == layer && t.head.get() == head);
    let chart = Memo::new(move |_| {
        let trace = t.trace()?;
        let grid = grid_at(&trace, t.kind.get(), layer, head, t.revealed.get())?;
        Some(ThumbnailChart {
            grid,
            selected: selected.get(),
            side: size,
        })
    });
    let choose = Callback::new(move |_| {
        t.layer.set(layer);
        t.head.set(head);
    });
    view! {
        <ThumbnailButton
            chart=chart
            layer=layer
            head=head
            size=size
            selected=selected
            locked=Signal::stored(false)
            testid=format!("pair-thumb-{layer}-{head}")
            on_choose=choose
        />
    }
}

/// Every head of the shown attention at its layer as lines (BertViz's head view): queries left
/// and keys right, or for cross-attention the source left and the target right. The pinned
/// query shows its lines alone.
#[component]
fn PairLines() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let cross = move || t.kind.get() == AttentionKind::Cross;
    let chart = Callback::new(move |shown: Vec<bool>| {
        let trace = t.trace()?;
        let kind = t.kind.get();
        let grid = |head| grid_at(&trace, kind, t.layer.get(), head, t.revealed.get());
        let lines = head_lines_chart(&shown, grid, pinned_query(state, kind), lines_title(state))?;
        // Cross-attention: the source (keys) left, the target right, both titled.
        let cross = kind == AttentionKind::Cross;
        Some(HeadLinesChart {
            keys_left: cross,
            column_titles: cross.then(|| {
                (
                    tr("translation.source_tokens"),
                    tr("translation.target_tokens"),
                )
            }),
            ..lines
        })
    });
    view! {
        <HeadLinesFigure
            n_heads=Signal::derive(move || stack_shape(state).1)
            selected_head=t.head.into()
            chart
            title=Signal::derive(move || lines_title(state))
            label=Signal::derive(move || {
                tr(if cross() { "translation.lines_label_cross" } else { "heatmaps.lines_label" })
            })
            file_name=Signal::derive(move || {
                format!("{:?}-lines-layer{}", t.kind.get(), t.layer.get() + 1)
            })
        />
    }
}

/// "Cross-attention, layer 2: every head" in the page's language (tracked).
fn lines_title(state: AppState) -> String {
    let t = state.translation;
    trf(
        "translation.lines_title",
        &[
            ("kind", &kind_name(t.kind.get())),
            ("layer", &(t.layer.get() + 1)),
        ],
    )
}

/// The attention kind's name in the page's language (tracked).
pub fn kind_name(kind: AttentionKind) -> String {
    tr(match kind {
        AttentionKind::EncoderSelf => "translation.kind_encoder",
        AttentionKind::DecoderSelf => "translation.kind_decoder",
        AttentionKind::Cross => "translation.kind_cross",
    })
}

/// "Cross-attention, layer 2, head 4" in the page's language (tracked).
fn heatmap_title(state: AppState) -> String {
    let t = state.translation;
    let kind = kind_name(t.kind.get());
    let (layer, head) = (t.layer.get() + 1, t.head.get() + 1);
    trf(
        "translation.heatmap_title",
        &[("kind", &kind), ("layer", &layer), ("head", &head)],
    )
}

/// The pinned target position: what it attends to in the source (this layer and head) and
/// what its next token's choice depended on (saliency over source and target).
#[component]
fn PinnedTarget() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let key = move || {
        let position = t.pinned.get()?;
        let generation = state.model.loaded()?;
        let lab = state.text.lab_for_pairs();
        Some((
            generation,
            state.text.text.get(),
            t.target.get(),
            position,
            lab,
        ))
    };
    let saliency = owned_request(
        key,
        |(_, source, target, position, lab)| Request::PairSaliency {
            source: source.clone(),
            target: target.clone(),
            position: Some(*position),
            target_id: None,
            lab: lab.clone(),
        },
        |answer| match answer.response {
            Response::PairSaliency { saliency } => Some(Arc::new(saliency)),
            _ => None,
        },
    );
    let bars = move |side: fn(&ae_messages::PairSaliency) -> &Vec<f32>,
                     tokens: fn(&EncoderDecoderTrace) -> &Vec<String>| {
        Signal::derive(move || {
            let (Some(saliency), Some(trace)) = (saliency.value(), t.trace()) else {
                return Vec::new();
            };
            tokens(&trace)
                .iter()
                .zip(side(&saliency))
                .map(|(label, &value)| Bar {
                    label: label.clone(),
                    value,
                    active: true,
                })
                .collect::<Vec<_>>()
        })
    };
    let heading = move || {
        let saliency = saliency.value()?;
        Some(trf(
            "translation.saliency_title",
            &[
                ("token", &saliency.target_token),
                ("position", &saliency.position),
            ],
        ))
    };
    view! {
        <Show when=move || t.pinned.get().is_some()>
            <section class="pinned-target" data-testid="pinned-target">
                <h3>{heading}</h3>
                <p class="explain">{move || tr("translation.saliency_explain")}</p>
                <h4>{move || tr("translation.source_tokens")}</h4>
                <BarChart
                    bars=bars(|s| &s.source, |t| &t.source.tokens)
                    testid="saliency-source"
                    value_name="saliency.share"
                />
                <h4>{move || tr("translation.target_tokens")}</h4>
                <BarChart
                    bars=bars(|s| &s.target, |t| &t.target.tokens)
                    testid="saliency-target"
                    value_name="saliency.share"
                />
            </section>
        </Show>
    }
}

/// The shown attention's step-through at its layer and head, for the pinned query (a target
/// token; in the encoder, the source token pinned under the text box), else the last token.
#[component]
fn PairStepThrough() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let numbers = Memo::new(move |_| {
        let trace = t.trace()?;
        let kind = t.kind.get();
        let last = shown_stack(&trace, kind).tokens.len().checked_sub(1)?;
        let (layers, heads) = stack_shape(state);
        let layer = t.layer.get().min(layers.saturating_sub(1));
        let head = t.head.get().min(heads.saturating_sub(1));
        let query = pinned_query(state, kind)
            .filter(|&q| q <= last)
            .unwrap_or(last);
        let mut numbers = HeadNumbers::of_pair(&trace, kind, layer, head, query)?;
        let card = state
            .model
            .read((None, 0.0), |c| (c.activation, c.norm_eps));
        numbers.block = BlockNumbers::of_pair(&trace, kind, layer, query, card);
        Some(numbers)
    });
    view! {
        <section class="pair-step" data-testid="pair-step">
            <h3>{move || tr("translation.step_title")}</h3>
            <p class="explain">{move || tr("translation.step_explain")}</p>
            <Stepper numbers=numbers.into() waiting=Signal::derive(|| tr("step.empty")) />
        </section>
    }
}

/// T5's relative positions beyond the text: the bucket of every key − query distance up to the
/// model's reach, and the bias each head adds for it (one line per head, in the line view's
/// colours).
#[component]
fn RelativeDistances() -> impl IntoView {
    let t = use_state().translation;
    let relative = Memo::new(move |_| {
        let trace = t.trace()?;
        shown_stack(&trace, t.kind.get()).relative_positions.clone()
    });
    let x_from = Signal::derive(move || {
        relative.with(|r| {
            r.as_ref()
                .and_then(|r| r.distances.first().copied())
                .unwrap_or(0)
        })
    });
    let buckets = Signal::derive(move || {
        relative.with(|r| {
            r.iter()
                .map(|r| {
                    let buckets = r.buckets.iter().map(|&b| b as f32).collect();
                    (tr("translation.bucket"), buckets)
                })
                .collect::<Vec<_>>()
        })
    });
    let bias = Signal::derive(move || {
        relative.with(|r| {
            let Some(r) = r else { return Vec::new() };
            let heads = r.bias.shape.first().copied().unwrap_or(0);
            (0..heads)
                .filter_map(|h| {
                    let name = trf("step.head_n", &[("head", &(h + 1))]);
                    Some((name, r.bias.row(&[h])?.to_vec()))
                })
                .collect()
        })
    });
    view! {
        <p class="explain">{move || tr("translation.buckets_explain")}</p>
        <LinesCanvas
            series=buckets
            testid="pair-buckets"
            caption="translation.buckets_caption"
            x_name="translation.distance"
            x_from=x_from
        />
        <LinesCanvas
            series=bias
            testid="pair-bias-by-distance"
            caption="translation.bias_by_distance_caption"
            x_name="translation.distance"
            x_from=x_from
        />
    }
}

/// The pinned query of `kind` (tracked): a target token, or in the encoder's self-attention the
/// source token pinned under the text box.
fn pinned_query(state: AppState, kind: AttentionKind) -> Option<usize> {
    match kind {
        AttentionKind::EncoderSelf => state.selection.pinned.get(),
        _ => state.translation.pinned.get(),
    }
}

/// The stack of the shown attention: the encoder's for its self-attention, else the decoder's.
fn shown_stack(trace: &EncoderDecoderTrace, kind: AttentionKind) -> &StackTrace {
    match kind {
        AttentionKind::EncoderSelf => &trace.source,
        AttentionKind::DecoderSelf | AttentionKind::Cross => &trace.target,
    }
}

/// Where positions enter the shown stack, with the model's own numbers: T5's learned bias on
/// the scores by query–key distance (the selected head's, the same in every layer), or the
/// table added to the input (Marian's sinusoids, BART's learned rows).
#[component]
fn PairPositions() -> impl IntoView {
    let state = use_state();
    let t = state.translation;
    let bias = Signal::derive(move || {
        let trace = t.trace()?;
        let bias = shown_stack(&trace, t.kind.get()).position_bias.as_ref()?;
        let heads = bias.shape.first().copied()?;
        bias.sub_array(t.head.get().min(heads.saturating_sub(1)))
    });
    let added = Signal::derive(move || -> Option<Array> {
        let trace = t.trace()?;
        shown_stack(&trace, t.kind.get())
            .position_embeddings
            .clone()
    });
    let architecture = move || {
        state
            .model
            .read(String::new(), |card| card.architecture.clone())
    };
    let added_explain = move || {
        tr(if architecture() == "Marian" {
            "translation.positions_sinusoidal"
        } else {
            "translation.positions_learned"
        })
    };
    view! {
        <section class="pair-positions" data-testid="pair-positions">
            <h3>{move || tr("translation.positions_title")}</h3>
            <Show when=move || bias.with(Option::is_some)>
                <p class="explain">{move || tr("translation.positions_relative")}</p>
                <MatrixCanvas
                    values=bias
                    testid="pair-position-bias"
                    caption=Signal::derive(move || {
                        trf("translation.positions_bias_caption", &[("head", &(t.head.get() + 1))])
                    })
                    row_name="positions.rope_query_position"
                    column_name="positions.rope_key_position"
                    fixed_limit=None
                />
                <RelativeDistances />
            </Show>
            <Show when=move || added.with(Option::is_some)>
                <p class="explain">{added_explain}</p>
                <MatrixCanvas
                    values=added
                    testid="pair-position-embeddings"
                    caption=Signal::derive(move || tr("positions.position_embedding"))
                    row_name="positions.position"
                    column_name="positions.dimension"
                    fixed_limit=None
                />
            </Show>
        </section>
    }
}
