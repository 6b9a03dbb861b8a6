//! The lab: change the model and see what changes. Heads switched off (zeroed or replaced by
//! their mean), a decoder's causal mask removed, an encoder's text padded with or without its
//! key padding mask. The interventions live in `TextState::lab`: the trace is asked for again
//! with them, so every panel shows the changed model's numbers, and a banner above the panels
//! says so. This panel also shows the predictions as trained beside the changed model's.
use leptos::prelude::*;

use super::analyses::{first_candidates, predict_request, prediction_result, predictions};
use super::compare::Compare;
use super::head_summary::{head_axis_labels, HeadSummaryView};
use super::induction::Induction;
use super::padding::Padding;
use super::positions::MatrixCanvas;
use super::translation::kind_name;
use crate::client::owned_request;
use crate::i18n::{current, tr, trf};
use crate::state::{use_state, AppState};
use crate::widgets::{CaptionedBars, HeadShortcuts, HeadSwitchTable, Pointed};
use ae_charts::Bar;
use ae_messages::{
    toggle_head, Ablation, Array, AttentionKind, Candidate, EngineError, HeadId, HeadImportance,
    Interventions, Request, Response,
};

/// How many candidates the before/after table compares.
const COMPARED: usize = 5;

/// The lab's interventions in words, for the banner (tracked); `None` when there are none.
/// An encoder–decoder's heads are named with their attention.
fn summary(lab: &Interventions, encoder_decoder: bool) -> Option<String> {
    let mut parts = Vec::new();
    let listed = |heads: &[HeadId]| {
        let names: Vec<String> = heads.iter().map(HeadId::to_string).collect();
        names.join(", ")
    };
    let heads = match encoder_decoder {
        false => listed(&lab.ablated),
        true => {
            let kinds: Vec<String> = [
                AttentionKind::EncoderSelf,
                AttentionKind::DecoderSelf,
                AttentionKind::Cross,
            ]
            .into_iter()
            .filter(|&kind| !lab.ablated_of(kind).is_empty())
            .map(|kind| format!("{}: {}", kind_name(kind), listed(lab.ablated_of(kind))))
            .collect();
            kinds.join(&tr("list.separator"))
        }
    };
    if !heads.is_empty() {
        let key = match lab.ablation {
            Ablation::Zero => "lab.summary_zeroed",
            Ablation::Mean => "lab.summary_mean",
        };
        parts.push(trf(key, &[("heads", &heads)]));
    }
    if lab.causal_mask_off {
        parts.push(tr("lab.summary_causal_off"));
    }
    if let Some(pad_to) = lab.pad_to {
        let key = match lab.padding_mask_off {
            true => "lab.summary_padded_visible",
            false => "lab.summary_padded",
        };
        parts.push(trf(key, &[("tokens", &pad_to)]));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// Above the panels while the lab changes the model: what it changes, and a way back. On an
/// encoder–decoder, mask and padding settings (from a link, or kept from a model of one text)
/// are not run, and the banner says why.
#[component]
pub fn LabBanner() -> impl IntoView {
    let state = use_state();
    let (lab, model) = (state.text.lab, state.model);
    move || {
        let encoder_decoder = model.is_encoder_decoder();
        let (said, unused) = lab.with(|lab| {
            let said = summary(&lab.for_model(encoder_decoder), encoder_decoder);
            (said, encoder_decoder && lab.changes_masks_or_padding())
        });
        if said.is_none() && !unused {
            return None;
        }
        let architecture = model.read(String::new(), |card| card.architecture.clone());
        let not_run = move || {
            let why = EngineError::LabHeadsOnly {
                architecture: architecture.clone(),
            };
            format!("{} {}", why.words(current()), tr("lab.banner_not_run"))
        };
        Some(view! {
            <div class="notice lab-banner" role="status" data-testid="lab-banner">
                {said
                    .map(|said| {
                        view! {
                            <strong>{move || tr("lab.banner_title")}</strong>
                            " "
                            {said}
                            " — "
                            {move || tr("lab.banner_every_number")}
                            " "
                        }
                    })}
                {unused.then(|| view! { <span data-testid="lab-not-run">{not_run}" "</span> })}
                <button data-testid="lab-reset" on:click=move |_| lab.set(Interventions::default())>
                    {move || tr("lab.reset")}
                </button>
            </div>
        })
    }
}

/// The panel.
#[component]
pub fn Lab() -> impl IntoView {
    let state = use_state();
    let causal = move || state.model.read(false, |c| c.causal);
    view! {
        <h2>{move || tr("panel.lab")}</h2>
        <p class="muted">{move || tr("lab.intro")}</p>
        {move || {
            state
                .model
                .read(None, |c| Some((c.n_layer, c.n_head)))
                .map(|(layers, heads)| view! { <HeadSwitches layers heads /> })
        }}
        <BeforeAfter />
        <Importance />
        <HeadSummaryView />
        <Compare />
        {move || match causal() {
            true => {
                view! {
                    <Induction />
                    <CausalMask />
                }
                    .into_any()
            }
            false => view! { <Padding /> }.into_any(),
        }}
    }
}

/// Whether `head` is switched off (tracked).
fn is_off(state: AppState, head: HeadId) -> bool {
    state.text.lab.with(|lab| lab.ablated.contains(&head))
}

/// Switches one head on or off.
fn toggle(state: AppState, head: HeadId) {
    state
        .text
        .lab
        .update(|lab| toggle_head(&mut lab.ablated, head));
}

/// Sets the switched-off heads to `heads`.
fn switch_off(state: AppState, heads: Vec<HeadId>) {
    state.text.lab.update(|lab| lab.ablated = heads);
}

/// Layers × heads of toggles, the shortcuts, and zero or mean.
#[component]
fn HeadSwitches(layers: usize, heads: usize) -> impl IntoView {
    let state = use_state();
    let mean = move || state.text.lab.with(|lab| lab.ablation == Ablation::Mean);
    view! {
        <section class="lab-heads" data-testid="lab-heads">
            <h3>{move || tr("lab.heads_title")}</h3>
            <p class="muted">{move || tr("lab.heads_explain")}</p>
            <HeadSwitchTable
                layers=layers
                heads=heads
                is_off=Callback::new(move |id| is_off(state, id))
                toggle=Callback::new(move |id| toggle(state, id))
                testid="head-switch"
            />
            <div class="lab-shortcuts">
                <HeadShortcuts
                    layers=layers
                    heads=heads
                    layer=state.selection.layer.into()
                    head=state.selection.head.into()
                    set_off=Callback::new(move |heads| switch_off(state, heads))
                    testid="lab"
                />
                <label>
                    <input
                        type="checkbox"
                        data-testid="lab-mean"
                        prop:checked=mean
                        on:change=move |e| {
                            let ablation = match event_target_checked(&e) {
                                true => Ablation::Mean,
                                false => Ablation::Zero,
                            };
                            state.text.lab.update(|lab| lab.ablation = ablation)
                        }
                    />
                    {move || tr("lab.mean")}
                </label>
            </div>
        </section>
    }
}

/// The model as trained beside the changed one: the trained top candidates and what each
/// became, as a table and as two bar charts (the lab's tab and the predictions tab).
#[component]
pub(crate) fn BeforeAfter() -> impl IntoView {
    let state = use_state();
    let changed = predictions(state);
    let trained = owned_request(
        move || {
            let trace = state.text.trace_id()?;
            let active = state.text.lab.with(|lab| !lab.is_none());
            (active && state.has_logits()).then(|| (trace, state.settings.sampling.get()))
        },
        move |&(_, settings)| predict_request(state, settings, None, true),
        |answer| prediction_result(answer.response),
    );
    let rows = move || {
        let before = first_candidates(&trained.value()?);
        let after = first_candidates(&changed.value()?);
        let floor = after.last().map_or(0.0, |c| c.probability);
        Some(
            before
                .into_iter()
                .take(COMPARED)
                .map(|b| {
                    let now = after.iter().find(|a| a.token_id == b.token_id);
                    (b, now.map(|a| a.probability), floor)
                })
                .collect::<Vec<_>>(),
        )
    };
    view! {
        <Show when=move || state.text.lab.with(|lab| !lab.is_none()) && state.has_logits()>
            <section class="lab-before-after" data-testid="lab-before-after">
                <h3>{move || tr("lab.before_after_title")}</h3>
                {move || match rows() {
                    None => view! { <p class="muted">{move || tr("lab.computing")}</p> }.into_any(),
                    Some(rows) => {
                        let bars = |after: bool| {
                            rows.iter()
                                .filter_map(|(before, now, _)| {
                                    let value = if after { (*now)? } else { before.probability };
                                    Some(Bar {
                                        label: before.token.clone(),
                                        value,
                                        active: true,
                                    })
                                })
                                .collect::<Vec<_>>()
                        };
                        // A candidate that left the lab's top 10 has no bar after: its
                        // probability is not known here (the table gives its bound).
                        view! {
                            <div class="chart-row">
                                <CaptionedBars
                                    caption=Signal::derive(|| tr("lab.as_trained"))
                                    bars=Signal::stored(bars(false))
                                    testid="lab-bars-trained"
                                    value_name="predictions.probability"
                                />
                                <CaptionedBars
                                    caption=Signal::derive(|| tr("lab.with_lab"))
                                    bars=Signal::stored(bars(true))
                                    testid="lab-bars-changed"
                                    value_name="predictions.probability"
                                />
                            </div>
                            <table>
                                <thead>
                                    <tr>
                                        <th>{move || tr("step.token")}</th>
                                        <th>{move || tr("lab.as_trained")}</th>
                                        <th>{move || tr("lab.with_lab")}</th>
                                        <th>{move || tr("lab.change")}</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|(before, after, floor)| {
                                            view! { <ComparedRow before after floor /> }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                }}
            </section>
        </Show>
    }
}

/// Which heads matter for the current prediction, measured on request (one pass per head):
/// a layers × heads map of the drop in log p(target); a click switches that head off.
#[component]
fn Importance() -> impl IntoView {
    let state = use_state();
    // The trace the student asked about; a new trace waits for a new click.
    let asked = RwSignal::new(None::<u32>);
    let importance = owned_request(
        move || {
            let trace = state.text.trace_id()?;
            (asked.get() == Some(trace) && state.has_logits()).then_some(trace)
        },
        move |_| Request::HeadImportance {
            text: state.text.text.get_untracked(),
            position: None,
            target: None,
        },
        |answer| match answer.response {
            Response::HeadImportance { importance } => Some(importance),
            _ => None,
        },
    );
    // The last map stays while the lab changes (a click on it switches a head off); a note
    // says when it was measured on an earlier trace.
    let kept = RwSignal::new(None::<(u32, HeadImportance)>);
    Effect::new(move |_| {
        if let (Some(found), Some(trace)) = (importance.value(), asked.get_untracked()) {
            kept.set(Some((trace, found)));
        }
    });
    let latest = move || kept.with(|k| k.as_ref().map(|(_, found)| found.clone()));
    let stale = move || kept.with(|k| k.as_ref().map(|(trace, _)| *trace)) != state.text.trace_id();
    let values = Signal::derive(move || {
        latest().map(|found| Array {
            shape: vec![found.drops.len(), found.drops.first().map_or(0, Vec::len)],
            data: found.drops.concat(),
        })
    });
    let labels = Signal::derive(move || head_axis_labels(state));
    let caption = Signal::derive(move || {
        latest()
            .map(|found| {
                trf(
                    "lab.importance_caption",
                    &[
                        ("token", &found.target_token),
                        ("position", &found.position),
                        ("log_p", &format!("{:.3}", found.log_probability)),
                    ],
                )
            })
            .unwrap_or_default()
    });
    let on_click = Callback::new(move |cell: Pointed| {
        toggle(
            state,
            HeadId {
                layer: cell.row,
                head: cell.column,
            },
        )
    });
    let measuring = move || asked.get().is_some() && asked.get() == state.text.trace_id();
    view! {
        <Show when=move || state.has_logits()>
            <section class="lab-importance" data-testid="lab-importance">
                <h3>{move || tr("lab.importance_title")}</h3>
                <p class="muted">{move || tr("lab.importance_explain")}</p>
                <button
                    data-testid="lab-measure"
                    prop:disabled=measuring
                    on:click=move |_| asked.set(state.text.trace_id())
                >
                    {move || tr("lab.measure")}
                </button>
                {move || {
                    (measuring() && importance.value().is_none())
                        .then(|| {
                            view! {
                                <p class="muted" data-testid="lab-measuring">
                                    {move || match state.client.progress.get() {
                                        Some((done, total)) => {
                                            trf("lab.measured", &[("done", &done), ("total", &total)])
                                        }
                                        None => tr("lab.measuring"),
                                    }}
                                </p>
                            }
                        })
                }}
                {move || {
                    (latest().is_some() && stale() && !measuring())
                        .then(|| {
                            view! {
                                <p class="notice" data-testid="lab-importance-stale">
                                    {move || tr("lab.importance_stale")}
                                </p>
                            }
                        })
                }}
                <Show when=move || latest().is_some()>
                    <MatrixCanvas
                        values
                        testid="lab-importance-map"
                        caption
                        row_name="lab.layer_axis"
                        column_name="lab.head_axis"
                        fixed_limit=None
                        labels
                        on_click
                    />
                </Show>
            </section>
        </Show>
    }
}

/// One trained candidate: its probability as trained and with the lab, or the bound below
/// which it fell (the lab's 10th candidate's probability).
#[component]
fn ComparedRow(before: Candidate, after: Option<f32>, floor: f32) -> impl IntoView {
    let with_lab = match after {
        Some(p) => view! {
            <td class="num">{format!("{p:.4}")}</td>
            <td class="num">{format!("{:+.4}", p - before.probability)}</td>
        }
        .into_any(),
        None => view! { <td colspan="2">{move || trf("lab.dropped", &[("floor", &format!("{floor:.4}"))])}</td> }
        .into_any(),
    };
    view! {
        <tr
            data-testid="lab-compared"
            data-token-id=before.token_id
            data-before=before.probability
            data-after=after.map(|p| p.to_string())
        >
            <td>{before.token.clone()}</td>
            <td class="num">{format!("{:.4}", before.probability)}</td>
            {with_lab}
        </tr>
    }
}

/// A decoder's causal mask, removed on request.
#[component]
fn CausalMask() -> impl IntoView {
    let lab = use_state().text.lab;
    view! {
        <section class="lab-mask" data-testid="lab-causal">
            <h3>{move || tr("lab.causal_title")}</h3>
            <label>
                <input
                    type="checkbox"
                    data-testid="lab-causal-off"
                    prop:checked=move || lab.with(|l| l.causal_mask_off)
                    on:change=move |e| {
                        let off = event_target_checked(&e);
                        lab.update(|l| l.causal_mask_off = off)
                    }
                />
                {move || tr("lab.causal_off")}
            </label>
            <p class="muted">{move || tr("lab.causal_explain")}</p>
        </section>
    }
}
