//! The page's side of the worker: waits for its "ready", keeps at most one model load and one
//! trace waiting (a newer trace replaces an older one, so fast typing never queues work), and
//! restarts the worker when it dies.
use std::cell::RefCell;
use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use super::i18n::describe_error;
use super::i18n::trf;
use super::loader::ModelFiles;
use super::state::{append_generated, AppState, LoadStatus, PredictionResult};
use ae_messages::{Envelope, Request, Response, SamplingSettings, WorkerMessage, WEIGHTS_FIELD};

struct Client {
    worker: Worker,
    ready: bool,
    busy: bool,
    pending_load: Option<ModelFiles>,
    pending_tokenize: Option<Envelope>,
    pending_trace: Option<Envelope>,
    latest_trace_id: u32,
    /// Waiting predictions, logit-lens and saliency requests (a newer one replaces the older).
    pending_analyses: [Option<Envelope>; 6],
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
        let message = serde_wasm_bindgen::from_value::<WorkerMessage>(event.data());
        let read_ms = super::loader::now_seconds() * 1e3 - started_ms;
        match message {
            Ok(message) => receive(message, read_ms),
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

/// Posts a `Load` envelope with the weights beside it; their buffer is transferred to the
/// worker, not copied (the page has no further use for it: a reload reads the cache again).
fn post_load(worker: &Worker, id: u32, files: ModelFiles) -> Result<(), JsValue> {
    let envelope = Envelope {
        id,
        request: Request::Load {
            config: files.config,
            tokenizer: files.tokenizer,
        },
    };
    let message = serde_wasm_bindgen::to_value(&envelope).map_err(JsValue::from)?;
    js_sys::Reflect::set(&message, &WEIGHTS_FIELD.into(), &files.model)?;
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
        client.pending_tokenize = Some(Envelope {
            id,
            request: Request::Tokenize { text: text.clone() },
        });
        client.pending_trace = Some(Envelope {
            id,
            request: Request::Trace {
                text,
                layer: client.state.layer.get_untracked(),
            },
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

fn request_analysis(kind: Analysis, request: Request) {
    with_client(|client| {
        let id = client.next_id;
        client.next_id += 1;
        client.latest_analysis_ids[kind as usize] = id;
        client.pending_analyses[kind as usize] = Some(Envelope { id, request });
        pump(client);
    });
}

/// Asks for predictions of `text`; with a seed the worker also draws the next token, which the
/// page appends.
pub fn predict(text: String, settings: SamplingSettings, seed: Option<u64>) {
    request_analysis(
        Analysis::Predict,
        Request::Predict {
            text,
            k: PREDICTION_COUNT,
            settings,
            seed,
        },
    );
}

/// Asks for the logit lens of `text` at `position` (default: the prediction position).
pub fn logit_lens(text: String, position: Option<usize>) {
    request_analysis(
        Analysis::LogitLens,
        Request::LogitLens {
            text,
            position,
            k: 3,
        },
    );
}

/// Asks for gradient×input saliency of `target` (default: the top prediction) at `position`.
pub fn saliency(text: String, position: Option<usize>, target: Option<u32>) {
    request_analysis(
        Analysis::Saliency,
        Request::Saliency {
            text,
            position,
            target,
        },
    );
}

/// Asks for the sinusoidal encoding at `positions` × `d_model` beside the model's learned one.
pub fn positional_encodings(positions: usize, d_model: usize) {
    request_analysis(
        Analysis::Positions,
        Request::PositionalEncodings { positions, d_model },
    );
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
    request_analysis(
        Analysis::Rotary,
        Request::Rotary {
            positions,
            query,
            query_position,
            key,
            key_position,
        },
    );
}

/// Asks for `layer`'s attention internals from the latest trace.
pub fn layer(layer: usize) {
    let mut trace = 0;
    with_client(|client| trace = client.latest_trace_id);
    request_analysis(Analysis::Layer, Request::Layer { trace, layer });
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
        let id = client.next_id;
        client.next_id += 1;
        post_load(&client.worker, id, files)
    } else {
        let Some(envelope) = client
            .pending_tokenize
            .take()
            .or_else(|| client.pending_trace.take())
            .or_else(|| client.pending_analyses.iter_mut().find_map(Option::take))
        else {
            return;
        };
        match serde_wasm_bindgen::to_value(&envelope) {
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

/// Applies one of the worker's messages; `read_ms` is how long reading it took.
fn receive(message: WorkerMessage, read_ms: f64) {
    match message {
        WorkerMessage::Ready => {
            with_client(|client| {
                client.ready = true;
                pump(client);
            });
        }
        WorkerMessage::Answer {
            id,
            compute_ms,
            wasm_memory_bytes,
            response,
        } => {
            apply(id, response, compute_ms, wasm_memory_bytes, read_ms);
            with_client(worker_free);
        }
        // A bug in the page: shown, and the worker is free again; no load failed.
        WorkerMessage::Unreadable { error } => {
            with_client(|client| {
                client.state.error.set(Some(describe_error(&error)));
                worker_free(client);
            });
        }
        WorkerMessage::Panic { message } => crashed(message),
    }
}

/// The worker has answered: it is free for the next waiting request.
fn worker_free(client: &mut Client) {
    client.busy = false;
    client.state.busy.set(false);
    pump(client);
}

/// Applies the answer to request `id`, if it is still the one the page waits for.
fn apply(id: u32, response: Response, compute_ms: f64, wasm_memory_bytes: usize, read_ms: f64) {
    let Some((state, latest, analyses)) = CLIENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| (c.state, c.latest_trace_id, c.latest_analysis_ids))
    }) else {
        return;
    };
    let is_latest = |kind: Analysis| analyses[kind as usize] == id;
    match response {
        Response::Loaded { card } => {
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
        Response::LoadFailed { error } => {
            let message = describe_error(&error);
            state.load.set(LoadStatus::Failed(message.clone()));
            state.error.set(Some(message));
            // The files did not make a model: the next try downloads them afresh.
            if let Some(source) = state.source.get_untracked() {
                leptos::task::spawn_local(
                    async move { super::loader::forget_source(&source).await },
                );
            }
        }
        Response::Tokens {
            tokens,
            truncated_from,
        } => {
            if id == latest {
                state.tokens.set(Some(tokens));
                state.truncated_from.set(truncated_from);
            }
        }
        Response::Trace {
            tokens,
            truncated_from,
            trace,
            layer_trace,
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
            predictions,
            survivors,
            sampled,
            reused_logits,
        } => {
            if is_latest(Analysis::Predict) {
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
        Response::Layer { trace, layer_trace } => {
            if is_latest(Analysis::Layer) && trace == latest {
                state.layer_trace.set(Some(Arc::new(*layer_trace)));
            }
        }
        Response::LogitLens { lens } => {
            if is_latest(Analysis::LogitLens) {
                state.lens.set(Some(lens));
            }
        }
        Response::PositionalEncodings { encodings } => {
            if is_latest(Analysis::Positions) {
                state.encodings.set(Some(Arc::new(encodings)));
            }
        }
        Response::Rotary { view } => {
            if is_latest(Analysis::Rotary) {
                state.rotary.set(Some(Arc::new(view)));
            }
        }
        Response::Saliency { saliency } => {
            if is_latest(Analysis::Saliency) {
                state.saliency.set(Some(saliency));
            }
        }
        Response::Error { error } => {
            if id == latest || analyses.contains(&id) {
                state.error.set(Some(describe_error(&error)));
            }
        }
        // The page never asks for benchmarks (scripts/bench.mjs talks to the worker directly).
        Response::MatmulTimes { .. } => {}
    }
}
