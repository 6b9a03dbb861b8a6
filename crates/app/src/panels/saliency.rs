//! Gradient×input saliency (Ecco): how much each input token's embedding moves the chosen
//! prediction's logit — ‖∂logit/∂eᵢ ⊙ eᵢ‖₂, shares summing to 1.
use leptos::prelude::*;

use super::analyses::{self, PredictionResult};
use crate::client::Owned;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use crate::widgets::BarChart;
use ae_charts::Bar;
use ae_messages::{Predictions, Saliency as TokenSaliency};

/// A saliency answer, owned by the panel that shows it.
pub type OwnedSaliency = Owned<(u32, Option<(usize, u32)>), TokenSaliency>;

/// The input tokens highlighted by their saliency share, exact values in `data-value`.
#[component]
pub fn SalientTokens(saliency: OwnedSaliency) -> impl IntoView {
    let state = use_state();
    move || {
        analyses::for_this_trace(state, saliency).map(|saliency| {
            let tokens = untrack(|| state.text.traced_tokens());
            let largest = saliency.scores.iter().fold(1e-9f32, |m, &s| m.max(s));
            view! {
                <p
                    data-testid="saliency-header"
                    data-position=saliency.position.to_string()
                    data-target=saliency.target_id.to_string()
                >
                    {move || trf(
                        "saliency.header",
                        &[("token", &saliency.target_token), ("position", &saliency.position)],
                    )}
                </p>
                <p class="saliency-text" data-testid="saliency-tokens">
                    {saliency
                        .scores
                        .iter()
                        .zip(tokens)
                        .enumerate()
                        .map(|(index, (&share, token))| {
                            let title = format!("{token}: {share:.4}");
                            view! {
                                <span class="salient" data-index=index data-value=share.to_string() title=title
                                style:--share=format!("{:.3}", share / largest)>{token}</span>
                            }
                        })
                        .collect_view()}
                </p>
            }
        })
    }
}

/// The panel: target choice, highlighted tokens, bar list and a caution.
#[component]
pub fn Saliency() -> impl IntoView {
    let state = use_state();
    // Candidates to explain come from the predictions (re-scored from the traced logits).
    let predictions = analyses::predictions(state);
    let saliency = analyses::saliency(state, Signal::stored(true));
    let choices = move || {
        predictions.with_latest(|p: Option<&PredictionResult>| {
            p.map(|p| match &p.predictions {
                Predictions::NextToken(next) => (next.position, next.candidates.clone()),
                Predictions::MaskFill(fills) => fills
                    .first()
                    .map(|f| (f.position, f.candidates.clone()))
                    .unwrap_or_default(),
            })
        })
    };
    let bars = Signal::derive(move || {
        let tokens = state.text.traced_tokens();
        saliency
            .with_latest(|s| {
                s.map(|s| {
                    s.scores
                        .iter()
                        .zip(&tokens)
                        .map(|(&share, token)| Bar {
                            label: token.clone(),
                            value: share,
                            active: true,
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    });
    let has_head = move || state.model.read(false, |c| c.has_prediction_head);
    view! {
        <h2>{move || tr("panel.saliency")}</h2>
        <p class="caution" data-testid="caution">
            {move || tr("saliency.caution")}
        </p>
        <Show
            when=has_head
            fallback=|| view! { <p class="notice">{move || tr("saliency.no_head")}</p> }
        >
            <div class="saliency-targets" data-testid="saliency-targets">
                <span>{move || format!("{} ", tr("saliency.explain"))}</span>
                {move || {
                    choices()
                        .map(|(position, candidates)| {
                            candidates
                                .into_iter()
                                .enumerate()
                                .map(|(rank, c)| {
                                    let id = c.token_id;
                                    let chosen = move || match state.selection.saliency_target.get()
                                    {
                                        Some(target) => target == (position, id),
                                        None => rank == 0,
                                    };
                                    view! {
                                        <button
                                            class="token"
                                            data-testid="saliency-target"
                                            data-token-id=id.to_string()
                                            aria-pressed=move || chosen().to_string()
                                            class:pinned=chosen
                                            on:click=move |_| {
                                                state.selection.saliency_target.set(Some((position, id)))
                                            }
                                        >
                                            {c.token.clone()}
                                        </button>
                                    }
                                })
                                .collect_view()
                        })
                }}
            </div>
            {move || match analyses::for_this_trace(state, saliency) {
                None => {
                    let failed = saliency.current().is_some_and(|r| r.is_err());
                    let key = if state.text.is_traced() && !failed {
                        "saliency.computing"
                    } else {
                        "saliency.empty"
                    };
                    view! { <p class="muted">{move || tr(key)}</p> }.into_any()
                }
                Some(_) => {
                    view! {
                        <SalientTokens saliency=saliency />
                        <BarChart bars=bars testid="saliency-bars" value_name="saliency.share" />
                    }
                        .into_any()
                }
            }}
        </Show>
    }
}
