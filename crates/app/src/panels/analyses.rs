//! The analyses panels ask the worker for, beyond the trace: each function returns an owned
//! answer (`crate::client::Owned`) keyed on what it depends on, so the panel that calls it owns
//! the request, and a new trace, setting or target asks again.
use leptos::prelude::*;

use crate::client::{owned_request, Owned};
use crate::state::AppState;
use ae_messages::{
    Candidate, LogitLens, Predictions, Request, Response, Saliency, SamplingSettings,
};

/// How many candidates the predictions panel lists.
pub const PREDICTION_COUNT: usize = 10;

/// The worker's answer to a predictions request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionResult {
    /// Next-token candidates or [MASK] fills.
    pub predictions: Predictions,
    /// Decoders: how many of the most probable tokens top-k/top-p leave drawable.
    pub survivors: Option<usize>,
    /// The token drawn, when the request asked for a draw.
    pub sampled: Option<Candidate>,
    /// Whether the trace's logits were re-scored instead of running the model.
    pub reused_logits: bool,
}

/// The predictions request for the current text, of the model with the lab's interventions
/// or (`as_trained`) without them.
pub fn predict_request(
    state: AppState,
    settings: SamplingSettings,
    seed: Option<u64>,
    as_trained: bool,
) -> Request {
    predict_text_request(state.text.text.get_untracked(), settings, seed, as_trained)
}

/// The predictions request for `text` (the lab's second sentence, or the current text).
pub fn predict_text_request(
    text: String,
    settings: SamplingSettings,
    seed: Option<u64>,
    as_trained: bool,
) -> Request {
    Request::Predict {
        text,
        k: PREDICTION_COUNT,
        settings,
        seed,
        as_trained,
    }
}

/// The first predicted position's candidates (the next token, or the first [MASK]'s fills).
pub fn first_candidates(result: &PredictionResult) -> Vec<Candidate> {
    match &result.predictions {
        Predictions::NextToken(next) => next.candidates.clone(),
        Predictions::MaskFill(fills) => fills
            .first()
            .map(|f| f.candidates.clone())
            .unwrap_or_default(),
    }
}

/// Reads a predictions answer.
pub fn prediction_result(response: Response) -> Option<PredictionResult> {
    match response {
        Response::Predictions {
            predictions,
            survivors,
            sampled,
            reused_logits,
        } => Some(PredictionResult {
            predictions,
            survivors,
            sampled,
            reused_logits,
        }),
        _ => None,
    }
}

/// The trace's id while the model can predict (tracked).
fn predicting(state: AppState) -> Option<u32> {
    state.has_logits().then(|| state.text.trace_id()).flatten()
}

/// Predictions for the current trace and sampling settings.
pub fn predictions(state: AppState) -> Owned<(u32, SamplingSettings), PredictionResult> {
    predictions_while(state, Signal::stored(true))
}

/// Predictions for the current trace and sampling settings while `wanted` holds.
pub fn predictions_while(
    state: AppState,
    wanted: Signal<bool>,
) -> Owned<(u32, SamplingSettings), PredictionResult> {
    owned_request(
        move || {
            let trace = predicting(state).filter(|_| wanted.get())?;
            Some((trace, state.settings.sampling.get()))
        },
        move |&(_, settings)| predict_request(state, settings, None, false),
        |answer| prediction_result(answer.response),
    )
}

/// The logit lens at the pinned token (default: where the model predicts).
pub fn logit_lens(state: AppState) -> Owned<(u32, Option<usize>), LogitLens> {
    owned_request(
        move || Some((predicting(state)?, state.selection.pinned.get())),
        move |&(_, position)| Request::LogitLens {
            text: state.text.text.get_untracked(),
            position,
            k: 3,
        },
        |answer| match answer.response {
            Response::LogitLens { lens } => Some(lens),
            _ => None,
        },
    )
}

/// Saliency of the chosen target (default: the top prediction) while `wanted` holds (it costs a
/// backward pass).
pub fn saliency(
    state: AppState,
    wanted: Signal<bool>,
) -> Owned<(u32, Option<(usize, u32)>), Saliency> {
    owned_request(
        move || {
            if !wanted.get() {
                return None;
            }
            let trace = predicting(state)?;
            let count = state.text.token_count();
            let target = state
                .selection
                .saliency_target
                .get()
                .filter(|&(position, _)| position < count);
            Some((trace, target))
        },
        move |&(_, target)| Request::Saliency {
            text: state.text.text.get_untracked(),
            position: target.map(|t| t.0),
            target: target.map(|t| t.1),
        },
        |answer| match answer.response {
            Response::Saliency { saliency } => Some(saliency),
            _ => None,
        },
    )
}

/// What a panel shows of an analysis keyed on (trace, input): the current answer, else — while
/// it is on its way — the previous one for the same trace (tracked). A new trace shows nothing
/// until its own answer comes.
pub fn for_this_trace<K: Clone + PartialEq + Send + Sync + 'static, T>(
    state: AppState,
    owned: Owned<(u32, K), T>,
) -> Option<T>
where
    T: Clone + Send + Sync + 'static,
{
    let trace = state.text.trace_id();
    owned
        .value()
        .or_else(|| owned.latest_if(|(id, _)| Some(*id) == trace))
}
