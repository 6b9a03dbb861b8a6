//! The lab's padding demo (encoders): the text padded with [PAD] as a batch pads it, with or
//! without the key padding mask, and the other mask's trace beside the current one — the
//! selected head's rows side by side and how far each token's last hidden state moves. The
//! difference is exactly what the mask prevents.
use std::sync::Arc;

use leptos::prelude::*;

use super::compare::{Side, SideHeatmap};
use super::heatmaps::traced;
use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use crate::widgets::CaptionedBars;
use ae_charts::Bar;
use ae_messages::{Interventions, Request, Response};

/// How many padding tokens the padding demo adds.
const PADDING: usize = 4;

/// The controls, and the two masks side by side once the text is padded.
#[component]
pub fn Padding() -> impl IntoView {
    let state = use_state();
    let lab = state.text.lab;
    let padded = move || lab.with(|l| l.pad_to.is_some());
    // Switched on, the text (not yet padded) gets PADDING more tokens; a longer text later
    // is refused with its own message until the padding is switched off.
    let apply = move |on: bool| {
        let length = untrack(|| state.text.token_count());
        lab.update(|l| l.pad_to = on.then_some(length + PADDING));
    };
    view! {
        <section class="lab-mask" data-testid="lab-padding">
            <h3>{move || tr("lab.padding_title")}</h3>
            <p class="muted">{move || tr("lab.padding_explain")}</p>
            <label>
                <input
                    type="checkbox"
                    data-testid="lab-pad"
                    prop:checked=padded
                    on:change=move |e| apply(event_target_checked(&e))
                />
                {move || trf("lab.pad", &[("count", &PADDING)])}
            </label>
            <label>
                <input
                    type="checkbox"
                    data-testid="lab-padding-visible"
                    prop:disabled=move || !padded()
                    prop:checked=move || lab.with(|l| l.padding_mask_off)
                    on:change=move |e| {
                        let visible = event_target_checked(&e);
                        lab.update(|l| l.padding_mask_off = visible)
                    }
                />
                {move || tr("lab.padding_visible")}
            </label>
            <Show when=padded>
                <BothMasks />
            </Show>
        </section>
    }
}

/// The current trace beside the same padded text with the other mask setting.
#[component]
fn BothMasks() -> impl IntoView {
    let state = use_state();
    let lab = state.text.lab;
    let other = owned_request(
        move || {
            let trace = state.text.trace_id()?;
            let current = lab.with(|lab| lab.for_model(false));
            let other = Interventions {
                padding_mask_off: !current.padding_mask_off,
                ..current
            };
            Some((trace, other))
        },
        move |(_, other): &(u32, Interventions)| Request::CompareTrace {
            text: state.text.text.get_untracked(),
            lab: Some(other.clone()),
        },
        |answer| match answer.response {
            Response::CompareTrace { tokens, trace } => Some((Arc::new(*trace), tokens.special)),
            _ => None,
        },
    );
    let current = Signal::derive(move || traced(&state));
    let other = Signal::derive(move || other.value());
    // (with the mask, without it), whichever the current trace is.
    let visible = move || lab.with(|l| l.padding_mask_off);
    let with_mask = Signal::derive(move || {
        if visible() {
            other.get()
        } else {
            current.get()
        }
    });
    let without = Signal::derive(move || {
        if visible() {
            current.get()
        } else {
            other.get()
        }
    });
    let moved = Signal::derive(move || hidden_state_moves(with_mask.get(), without.get()));
    view! {
        <div class="chart-row">
            <SideHeatmap side=with_mask testid="padding-masked" title="lab.padding_with_mask" />
            <SideHeatmap side=without testid="padding-visible" title="lab.padding_without_mask" />
        </div>
        <CaptionedBars
            caption=Signal::derive(|| tr("lab.padding_moved"))
            bars=moved
            testid="padding-moved"
            value_name="lab.padding_distance"
        />
    }
}

/// Per token, the distance between its last hidden states with and without the mask.
fn hidden_state_moves(with_mask: Option<Side>, without: Option<Side>) -> Vec<Bar> {
    let (Some((a, _)), Some((b, _))) = (with_mask, without) else {
        return Vec::new();
    };
    let Some([layers, tokens, width]) = a.hidden_states.dims() else {
        return Vec::new();
    };
    let last = |trace: &ae_messages::PageTrace, token: usize| {
        trace
            .hidden_states
            .row(&[layers - 1, token])
            .map(<[f32]>::to_vec)
    };
    (0..tokens)
        .filter_map(|token| {
            let (x, y) = (last(&a, token)?, last(&b, token)?);
            let distance = (0..width)
                .map(|i| (x[i] - y[i]).powi(2))
                .sum::<f32>()
                .sqrt();
            Some(Bar {
                label: a.tokens[token].clone(),
                value: distance,
                active: !a.hidden_keys.get(token).copied().unwrap_or(false),
            })
        })
        .collect()
}
