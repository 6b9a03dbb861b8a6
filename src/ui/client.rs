//! The page's side of the worker: waits for its "ready", keeps at most one model load and one
//! trace waiting (a newer trace replaces an older one, so fast typing never queues work), and
//! restarts the worker when it dies.
use std::cell::RefCell;
use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use super::state::{AppState, LoadStatus};
use crate::worker::protocol::{Request, Response};

struct Client {
    worker: Worker,
    ready: bool,
    busy: bool,
    pending_load: Option<Request>,
    pending_tokenize: Option<Request>,
    pending_trace: Option<Request>,
    latest_trace_id: u32,
    next_id: u32,
    state: AppState,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Starts the worker (or restarts it after a crash).
pub fn start(state: AppState) {
    let worker = match Worker::new("./worker_loader.js") {
        Ok(worker) => worker,
        Err(e) => {
            state
                .error
                .set(Some(format!("cannot start the model worker: {e:?}")));
            return;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match serde_wasm_bindgen::from_value::<Response>(event.data()) {
            Ok(response) => receive(response),
            Err(e) => state
                .error
                .set(Some(format!("the worker sent an unreadable message ({e})"))),
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
            next_id: 1,
            state,
            _on_message: on_message,
            _on_error: on_error,
        })
    });
    if let Some(old) = old {
        old.worker.terminate();
    }
    state.busy.set(false);
}

fn crashed(reason: String) {
    let Some(state) = CLIENT.with(|c| c.borrow().as_ref().map(|c| c.state)) else {
        return;
    };
    state.error.set(Some(format!(
        "The model worker stopped ({reason}). It has been restarted; the model is loading again."
    )));
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
pub fn load(config: Vec<u8>, tokenizer: Vec<u8>, model: Vec<u8>) {
    with_client(|client| {
        client.pending_tokenize = None;
        client.pending_trace = None;
        client.pending_load = Some(Request::Load {
            config,
            tokenizer,
            model,
        });
        pump(client);
    });
}

/// Asks for the tokens, then the trace, of `text`; supersedes any not yet started.
pub fn trace(text: String) {
    with_client(|client| {
        let id = client.next_id;
        client.next_id += 1;
        client.latest_trace_id = id;
        client.pending_tokenize = Some(Request::Tokenize {
            id,
            text: text.clone(),
        });
        client.pending_trace = Some(Request::Trace { id, text });
        pump(client);
    });
}

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
    let Some(request) = client
        .pending_load
        .take()
        .or_else(|| client.pending_tokenize.take())
        .or_else(|| client.pending_trace.take())
    else {
        return;
    };
    match serde_wasm_bindgen::to_value(&request) {
        Ok(message) => match client.worker.post_message(&message) {
            Ok(()) => {
                client.busy = true;
                client.state.busy.set(true);
            }
            Err(e) => client
                .state
                .error
                .set(Some(format!("cannot reach the model worker: {e:?}"))),
        },
        Err(e) => client
            .state
            .error
            .set(Some(format!("cannot encode the request: {e}"))),
    }
}

fn receive(response: Response) {
    let Some((state, latest)) =
        CLIENT.with(|c| c.borrow().as_ref().map(|c| (c.state, c.latest_trace_id)))
    else {
        return;
    };
    match response {
        Response::Ready => {
            with_client(|client| client.ready = true);
        }
        Response::Loaded {
            card,
            wasm_memory_bytes,
        } => {
            state.worker_memory.set(Some(wasm_memory_bytes));
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
            compute_ms,
        } => {
            if id == latest {
                state.trace_ms.set(Some(compute_ms));
                state.tokens.set(Some(tokens));
                state.truncated_from.set(truncated_from);
                state.trace.set(Some(Arc::new(*trace)));
                state.error.set(None);
            }
        }
        Response::Predictions { .. } | Response::Saliency { .. } => {}
        Response::Error { id, message } => {
            if id.is_none() {
                state.load.set(LoadStatus::Failed(message.clone()));
            }
            if id.is_none() || id == Some(latest) {
                state.error.set(Some(message));
            }
        }
        Response::Panic { message } => {
            crashed(message);
            return;
        }
    }
    with_client(|client| {
        client.busy = false;
        client.state.busy.set(false);
        pump(client);
    });
}
