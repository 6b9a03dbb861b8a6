//! The worker's event loop in the browser: one model, one request at a time.
use std::cell::RefCell;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use ae_engine::ByteSource;
use ae_messages::{EngineError, Envelope, Request, Response, WorkerMessage, WEIGHTS_FIELD};

use crate::benchmark::now_ms;
use crate::session::{handle, Session};

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::reporting(|id, done, total| {
        post(&WorkerMessage::Progress { id, done, total })
    }));
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &WorkerMessage) {
    match serde_wasm_bindgen::to_value(message) {
        Ok(value) => {
            // The trace's arrays (fresh `Uint8Array`s made by the encoder) are transferred to
            // the page, not copied again. Deepest: answer → response → layer_trace →
            // internals → q → its bytes.
            let transfer = js_sys::Array::new();
            collect_buffers(&value, 5, &transfer);
            if let Err(e) = scope().post_message_with_transfer(&value, &transfer) {
                web_sys::console::error_2(&"worker: cannot post a message".into(), &e);
            }
        }
        Err(e) => {
            web_sys::console::error_1(&format!("worker: cannot encode a message: {e}").into())
        }
    }
}

/// Installs the message handler, then tells the page it is ready (a message posted before the
/// handler exists would be lost, so the page waits for this).
pub fn start() {
    ae_engine::set_clock(crate::benchmark::now_ms);
    std::panic::set_hook(Box::new(|info| {
        post(&WorkerMessage::Panic {
            message: info.to_string(),
        });
        console_error_panic_hook::hook(info);
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        post(&answer(&event.data()));
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&WorkerMessage::Ready);
}

/// The answer to one envelope, timed, with the memory after it.
fn answer(data: &JsValue) -> WorkerMessage {
    let started = now_ms();
    let regions_before = ae_engine::parallel_regions();
    let (cut_before, block_before) = ae_engine::cut_work_ms();
    let envelope = match serde_wasm_bindgen::from_value::<Envelope>(data.clone()) {
        Ok(envelope) => envelope,
        Err(e) => {
            return WorkerMessage::Unreadable {
                error: EngineError::bad_request(format!("the page sent a malformed request ({e})")),
            }
        }
    };
    let response = SESSION.with(|session| {
        let mut session = session.borrow_mut();
        match envelope.request {
            Request::Load {
                config,
                tokenizer,
                target_tokenizer,
            } => match weights(data) {
                Some(weights) => session.load(
                    &config,
                    &tokenizer,
                    target_tokenizer.as_deref(),
                    &JsBytes(weights),
                ),
                None => Response::LoadFailed {
                    error: EngineError::bad_request("the page sent a load request without weights"),
                },
            },
            // On the threaded build's pool, its threads spin for the request's fork-joins.
            request => ae_engine::with_team(ae_engine::pieces(), || {
                handle(&mut session, envelope.id, request)
            }),
        }
    });
    let (cut_after, block_after) = ae_engine::cut_work_ms();
    WorkerMessage::Answer {
        id: envelope.id,
        compute_ms: now_ms() - started,
        wasm_memory_bytes: memory_bytes(),
        parallel_regions: ae_engine::parallel_regions() - regions_before,
        cut_ms: cut_after - cut_before,
        block_ms: block_after - block_before,
        response,
    }
}

/// The weights file beside a `Load` envelope.
fn weights(data: &JsValue) -> Option<Uint8Array> {
    js_sys::Reflect::get(data, &WEIGHTS_FIELD.into())
        .ok()?
        .dyn_into::<Uint8Array>()
        .ok()
}

/// Adds the buffers of the `Uint8Array`s inside `value`'s objects (down to `depth` levels) to
/// `transfer`. Lists are not walked: the big data are the arrays' byte fields.
fn collect_buffers(value: &JsValue, depth: u32, transfer: &js_sys::Array) {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        transfer.push(&bytes.buffer());
        return;
    }
    if depth == 0 || !value.is_object() || js_sys::Array::is_array(value) {
        return;
    }
    for field in js_sys::Object::values(value.unchecked_ref()).iter() {
        collect_buffers(&field, depth - 1, transfer);
    }
}

/// The downloaded model file in JS memory, read by the engine one tensor at a time.
struct JsBytes(Uint8Array);

impl ByteSource for JsBytes {
    fn byte_len(&self) -> u64 {
        u64::from(self.0.length())
    }

    fn read_into(&self, offset: u64, out: &mut [u8]) -> Option<()> {
        let start = u32::try_from(offset).ok()?;
        let end = start.checked_add(u32::try_from(out.len()).ok()?)?;
        if end > self.0.length() {
            return None;
        }
        self.0.subarray(start, end).copy_to(out);
        Some(())
    }
}

/// Size of this worker's wasm memory in bytes.
fn memory_bytes() -> usize {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as usize
}
