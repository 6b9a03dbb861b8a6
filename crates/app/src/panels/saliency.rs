//! Gradient×input saliency (Ecco): how much each input token's embedding moves the chosen
//! prediction's logit — ‖∂logit/∂eᵢ ⊙ eᵢ‖₂, shares summing to 1.
use leptos::prelude::*;

use super::BarChart;
use crate::client;
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState};
use ae_charts::Bar;
use ae_messages::Predictions;

/// Asks the worker for the saliency of the chosen target (default: the top prediction) whenever
/// the trace or the target changes while `wanted` holds (saliency costs a backward pass).
pub fn request_saliency(state: AppState, wanted: Signal<bool>) {
    Effect::new(move |_| {
        if !wanted.get() {
            return;
        }
        if !state.has_logits() {
            return;
        }
        let Some(count) = state.trace.with(|t| t.as_ref().map(|t| t.tokens.len())) else {
            return;
        };
        let (position, target) = match state.saliency_target.get() {
            Some((position, id)) if position < count => (Some(position), Some(id)),
            _ => (None, None),
        };
        client::saliency(state.text.get_untracked(), position, target);
    });
}

/// The input tokens highlighted by their saliency share, exact values in `data-value`.
#[component]
pub fn SalientTokens() -> impl IntoView {
    let state = use_state();
    move || {
        state.saliency.get().map(|saliency| {
            let tokens = state.trace.with_untracked(|t| t.as_ref().map(|t| t.tokens.clone()).unwrap_or_default());
            let largest = saliency.scores.iter().fold(1e-9f32, |m, &s| m.max(s));
            view! {
                <p data-testid="saliency-header" data-position=saliency.position.to_string() data-target=saliency.target_id.to_string()>
                    {trf("saliency.header", &[("token", &saliency.target_token), ("position", &saliency.position)])}
                </p>
                <p class="saliency-text" data-testid="saliency-tokens">
                    {saliency.scores.iter().zip(tokens).enumerate().map(|(index, (&share, token))| {
                        let title = format!("{token}: {share:.4}");
                        view! {
                            <span class="salient" data-index=index data-value=share.to_string() title=title
                                style:--share=format!("{:.3}", share / largest)>{token}</span>
                        }
                    }).collect_view()}
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
    Effect::new(move |_| {
        let traced = state.has_logits();
        if traced && state.predictions.with_untracked(|p| p.is_none()) {
            client::predict(
                state.text.get_untracked(),
                state.sampling.get_untracked(),
                None,
            );
        }
    });
    request_saliency(state, Signal::stored(true));
    let choices = move || {
        state.predictions.with(|p| {
            p.as_ref().map(|p| match &p.predictions {
                Predictions::NextToken(next) => (next.position, next.candidates.clone()),
                Predictions::MaskFill(fills) => fills
                    .first()
                    .map(|f| (f.position, f.candidates.clone()))
                    .unwrap_or_default(),
            })
        })
    };
    let bars = Signal::derive(move || {
        let tokens = state
            .trace
            .with(|t| t.as_ref().map(|t| t.tokens.clone()).unwrap_or_default());
        state
            .saliency
            .with(|s| {
                s.as_ref().map(|s| {
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
    let has_head = move || {
        state
            .model
            .with(|m| m.as_ref().is_some_and(|c| c.has_prediction_head))
    };
    view! {
        <h2>{tr("panel.saliency")}</h2>
        <p class="caution" data-testid="caution">{tr("saliency.caution")}</p>
        <Show when=has_head fallback=|| view! { <p class="notice">{tr("saliency.no_head")}</p> }>
            <div class="saliency-targets" data-testid="saliency-targets">
                <span>{format!("{} ", tr("saliency.explain"))}</span>
                {move || choices().map(|(position, candidates)| candidates.into_iter().enumerate().map(|(rank, c)| {
                    let id = c.token_id;
                    let chosen = move || match state.saliency_target.get() {
                        Some(target) => target == (position, id),
                        None => rank == 0,
                    };
                    view! {
                        <button class="token" data-testid="saliency-target" data-token-id=id.to_string()
                            aria-pressed=move || chosen().to_string() class:pinned=chosen
                            on:click=move |_| state.saliency_target.set(Some((position, id)))>{c.token.clone()}</button>
                    }
                }).collect_view())}
            </div>
            {move || match state.saliency.get() {
                None => view! { <p class="muted">{move || if state.trace.with(|t| t.is_some()) { tr("saliency.computing") } else { tr("saliency.empty") }}</p> }.into_any(),
                Some(_) => view! {
                        <SalientTokens/>
                        <BarChart bars=bars testid="saliency-bars" value_name=tr("saliency.share")/>
                    }.into_any(),
            }}
        </Show>
    }
}
