//! The page's side of the worker: waits for its "ready", keeps at most one model load and one
//! trace waiting (a newer trace replaces an older one, so fast typing never queues work), and
//! restarts the worker when it dies.
use std::cell::RefCell;
use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use super::i18n::trf;
use super::loader::ModelFiles;
use super::state::{append_generated, AppState, LoadStatus, PredictionResult};
use ae_messages::SamplingSettings;
use ae_messages::{Request, Response};

struct Client {
    worker: Worker,
    ready: bool,
    busy: bool,
    pending_load: Option<ModelFiles>,
    pending_tokenize: Option<Request>,
    pending_trace: Option<Request>,
    latest_trace_id: u32,
    /// Waiting predictions, logit-lens and saliency requests (a newer one replaces the older).
    pending_analyses: [Option<Request>; 6],
    /// The newest id of each analysis kind; older answers are dropped.
    latest_analysis_ids: [u32; 6],
    next_id: u32,
    state: AppState,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// A module of one function, `f32x4.relaxed_madd` of three constants: it validates exactly
/// where the browser has relaxed SIMD.
const RELAXED_SIMD_PROBE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of that type
    0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
    0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
    0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
    0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
    0xfd, 0x85, 0x02, // f32x4.relaxed_madd
    0x0b, // end
];

/// The worker this browser can run: the relaxed-SIMD build (fused multiply-add matmul) where
/// relaxed SIMD validates, otherwise the plain SIMD build.
pub fn worker_script() -> &'static str {
    let probe = js_sys::Uint8Array::from(RELAXED_SIMD_PROBE);
    match js_sys::WebAssembly::validate(&probe) {
        Ok(true) => "./worker_relaxed_loader.js",
        _ => "./worker_loader.js",
    }
}

/// Starts the worker (or restarts it after a crash).
pub fn start(state: AppState) {
    let worker = match Worker::new(worker_script()) {
        Ok(worker) => worker,
        Err(e) => {
            state.error.set(Some(trf(
                "client.cannot_start",
                &[("error", &format!("{e:?}"))],
            )));
            return;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        // Reading the message copies its arrays into this page's wasm memory: the page's share
        // of a trace's transfer, which the trace reports beside the worker's time.
        let started_ms = super::loader::now_seconds() * 1e3;
        let response = serde_wasm_bindgen::from_value::<Response>(event.data());
        let read_ms = super::loader::now_seconds() * 1e3 - started_ms;
        match response {
            Ok(response) => receive(response, read_ms),
            Err(e) => state
                .error
                .set(Some(trf("client.unreadable", &[("error", &e)]))),
        }
    });
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        event.prevent_default();
        crashed(format!("{} (line {})", event.message(), event.lineno()));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let old = CLIENT.with(|c| {
        c.borrow_mut().replace(Client {
            worker,
            ready: false,
            busy: false,
            pending_load: None,
            pending_tokenize: None,
            pending_trace: None,
            latest_trace_id: 0,
            pending_analyses: [None, None, None, None, None, None],
            latest_analysis_ids: [0; 6],
            next_id: 1,
            state,
            _on_message: on_message,
            _on_error: on_error,
        })
    });
    if let Some(old) = old {
        // Detach the handlers first: events the dead worker already queued must not reach
        // closures that are dropped with it.
        old.worker.set_onmessage(None);
        old.worker.set_onerror(None);
        old.worker.terminate();
    }
    state.busy.set(false);
}

fn crashed(reason: String) {
    let Some(state) = CLIENT.with(|c| c.borrow().as_ref().map(|c| c.state)) else {
        return;
    };
    state
        .error
        .set(Some(trf("client.crashed", &[("reason", &reason)])));
    state.model.set(None);
    state.load.set(LoadStatus::Idle);
    // This runs inside the dying worker's own event handler; replacing the client drops that
    // handler, so restart from a fresh task.
    leptos::task::spawn_local(async move {
        start(state);
        // The app reloads the current source (from the cache) when this counter changes.
        state.reload.update(|n| *n += 1);
    });
}

/// Sends the model files to the worker (replacing any waiting load and trace).
pub fn load(files: ModelFiles) {
    with_client(|client| {
        client.pending_tokenize = None;
        client.pending_trace = None;
        client.pending_load = Some(files);
        pump(client);
    });
}

/// Posts `{kind: "load", config, tokenizer, model}`; the weights' buffer is transferred to the
/// worker, not copied (the page has no further use for it: a reload reads the cache again).
fn post_load(worker: &Worker, files: ModelFiles) -> Result<(), JsValue> {
    let message = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| js_sys::Reflect::set(&message, &key.into(), value);
    set("kind", &"load".into())?;
    set("config", &js_sys::Uint8Array::from(files.config.as_slice()))?;
    set(
        "tokenizer",
        &js_sys::Uint8Array::from(files.tokenizer.as_slice()),
    )?;
    set("model", &files.model)?;
    let transfer = js_sys::Array::of1(&files.model.buffer());
    worker.post_message_with_transfer(&message, &transfer)
}

/// Asks for the tokens, then the trace, of `text`; supersedes any not yet started.
pub fn trace(text: String) {
    with_client(|client| {
        let id = client.next_id;
        client.next_id += 1;
        client.latest_trace_id = id;
        client.state.trace_read_ms.set(None);
        client.pending_tokenize = Some(Request::Tokenize {
            id,
            text: text.clone(),
        });
        client.pending_trace = Some(Request::Trace {
            id,
            text,
            layer: client.state.layer.get_untracked(),
        });
        // A layer of the previous trace is no longer wanted.
        client.pending_analyses[Analysis::Layer as usize] = None;
        pump(client);
    });
}

/// Forgets the trace asked for last (the text was emptied): requests not yet sent are dropped and
/// answers still on their way no longer count, so they cannot bring back the old text's tokens.
pub fn cancel_trace() {
    with_client(|client| {
        client.pending_tokenize = None;
        client.pending_trace = None;
        client.latest_trace_id = 0; // ids start at 1, so no answer matches
    });
}

/// The analyses that run after a trace, each with its own waiting slot.
#[derive(Clone, Copy)]
enum Analysis {
    Predict = 0,
    LogitLens = 1,
    Saliency = 2,
    Positions = 3,
    Rotary = 4,
    Layer = 5,
}

fn request_analysis(kind: Analysis, make: impl FnOnce(u32) -> Request) {
    with_client(|client| {
        let id = client.next_id;
        client.next_id += 1;
        client.latest_analysis_ids[kind as usize] = id;
        client.pending_analyses[kind as usize] = Some(make(id));
        pump(client);
    });
}

/// Asks for predictions of `text`; with a seed the worker also draws the next token, which the
/// page appends.
pub fn predict(text: String, settings: SamplingSettings, seed: Option<u64>) {
    request_analysis(Analysis::Predict, |id| Request::Predict {
        id,
        text,
        k: PREDICTION_COUNT,
        settings,
        seed,
    });
}

/// Asks for the logit lens of `text` at `position` (default: the prediction position).
pub fn logit_lens(text: String, position: Option<usize>) {
    request_analysis(Analysis::LogitLens, |id| Request::LogitLens {
        id,
        text,
        position,
        k: 3,
    });
}

/// Asks for gradient×input saliency of `target` (default: the top prediction) at `position`.
pub fn saliency(text: String, position: Option<usize>, target: Option<u32>) {
    request_analysis(Analysis::Saliency, |id| Request::Saliency {
        id,
        text,
        position,
        target,
    });
}

/// Asks for the sinusoidal encoding at `positions` × `d_model` beside the model's learned one.
pub fn positional_encodings(positions: usize, d_model: usize) {
    request_analysis(Analysis::Positions, |id| Request::PositionalEncodings {
        id,
        positions,
        d_model,
    });
}

/// Asks for the RoPE view: the model's rotation frequencies, and `query` (at `query_position`)
/// and `key` (at `key_position`), one head's vectors from the trace, placed at every position.
pub fn rotary(
    positions: usize,
    query: Vec<f32>,
    query_position: usize,
    key: Vec<f32>,
    key_position: usize,
) {
    request_analysis(Analysis::Rotary, |id| Request::Rotary {
        id,
        positions,
        query,
        query_position,
        key,
        key_position,
    });
}

/// Asks for `layer`'s attention internals from the latest trace.
pub fn layer(layer: usize) {
    let mut trace = 0;
    with_client(|client| trace = client.latest_trace_id);
    request_analysis(Analysis::Layer, |id| Request::Layer { id, trace, layer });
}

/// How many candidates the predictions panel lists.
pub const PREDICTION_COUNT: usize = 10;

fn with_client(f: impl FnOnce(&mut Client)) {
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            f(client);
        }
    });
}

/// Sends the next waiting request if the worker is ready and idle.
fn pump(client: &mut Client) {
    if !client.ready || client.busy {
        return;
    }
    let posted = if let Some(files) = client.pending_load.take() {
        post_load(&client.worker, files)
    } else {
        let Some(request) = client
            .pending_tokenize
            .take()
            .or_else(|| client.pending_trace.take())
            .or_else(|| client.pending_analyses.iter_mut().find_map(Option::take))
        else {
            return;
        };
        match serde_wasm_bindgen::to_value(&request) {
            Ok(message) => client.worker.post_message(&message),
            Err(e) => {
                client
                    .state
                    .error
                    .set(Some(trf("client.cannot_encode", &[("error", &e)])));
                return;
            }
        }
    };
    match posted {
        Ok(()) => {
            client.busy = true;
            client.state.busy.set(true);
        }
        Err(e) => client.state.error.set(Some(trf(
            "client.cannot_reach",
            &[("error", &format!("{e:?}"))],
        ))),
    }
}

/// Applies one of the worker's answers; `read_ms` is how long reading its message took.
fn receive(response: Response, read_ms: f64) {
    let Some((state, latest, analyses)) = CLIENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| (c.state, c.latest_trace_id, c.latest_analysis_ids))
    }) else {
        return;
    };
    let is_latest = |id: u32, kind: Analysis| analyses[kind as usize] == id;
    match response {
        Response::Ready => {
            with_client(|client| client.ready = true);
        }
        Response::Loaded {
            card,
            wasm_memory_bytes,
            ..
        } => {
            state.worker_memory.set(Some(wasm_memory_bytes));
            state.clear_analyses();
            state.saliency_target.set(None);
            state.generated.set(Vec::new());
            state.encodings.set(None);
            state.rotary.set(None);
            state.layer.update(|l| *l = (*l).min(card.n_layer - 1));
            state.head.update(|h| *h = (*h).min(card.n_head - 1));
            state.model.set(Some(card));
            state.load.set(LoadStatus::Ready);
            state.error.set(None);
        }
        Response::Tokens {
            id,
            tokens,
            truncated_from,
        } => {
            if id == latest {
                state.tokens.set(Some(tokens));
                state.truncated_from.set(truncated_from);
            }
        }
        Response::Trace {
            id,
            tokens,
            truncated_from,
            trace,
            layer_trace,
            compute_ms,
            ..
        } => {
            if id == latest {
                state.trace_ms.set(Some(compute_ms));
                state.trace_read_ms.set(Some(read_ms));
                state.tokens.set(Some(tokens));
                state.truncated_from.set(truncated_from);
                state.trace.set(Some(Arc::new(*trace)));
                state.layer_trace.set(Some(Arc::new(*layer_trace)));
                // Analyses of the previous text no longer apply.
                state.clear_analyses();
                state.error.set(None);
            }
        }
        Response::Predictions {
            id,
            predictions,
            survivors,
            sampled,
            reused_logits,
        } => {
            if is_latest(id, Analysis::Predict) {
                if let Some(token) = sampled.clone() {
                    append_generated(state, token);
                }
                state.predictions.set(Some(PredictionResult {
                    predictions,
                    survivors,
                    sampled,
                    reused_logits,
                }));
            }
        }
        Response::Layer {
            id,
            trace,
            layer_trace,
        } => {
            if is_latest(id, Analysis::Layer) && trace == latest {
                state.layer_trace.set(Some(Arc::new(*layer_trace)));
            }
        }
        Response::LogitLens { id, lens } => {
            if is_latest(id, Analysis::LogitLens) {
                state.lens.set(Some(lens));
            }
        }
        Response::PositionalEncodings { id, encodings } => {
            if is_latest(id, Analysis::Positions) {
                state.encodings.set(Some(Arc::new(encodings)));
            }
        }
        Response::Rotary { id, view } => {
            if is_latest(id, Analysis::Rotary) {
                state.rotary.set(Some(Arc::new(view)));
            }
        }
        Response::Saliency { id, saliency } => {
            if is_latest(id, Analysis::Saliency) {
                state.saliency.set(Some(saliency));
            }
        }
        Response::Error { id, message } => {
            if id.is_none() {
                state.load.set(LoadStatus::Failed(message.clone()));
                if let Some(source) = state.source.get_untracked() {
                    leptos::task::spawn_local(async move {
                        super::loader::forget_source(&source).await
                    });
                }
            }
            let current = |id: u32| id == latest || analyses.contains(&id);
            if id.is_none_or(current) {
                state.error.set(Some(message));
            }
        }
        Response::Panic { message } => {
            crashed(message);
            return;
        }
        // The page never asks for benchmarks (scripts/bench.mjs talks to the worker directly).
        Response::MatmulTimes { .. } => {}
    }
    with_client(|client| {
        client.busy = false;
        client.state.busy.set(false);
        pump(client);
    });
}
