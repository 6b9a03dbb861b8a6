//! The worker's event loop in the browser: one model, one request at a time.
use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{handle, Request, Response, Session};

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(response: &Response) {
    match serde_wasm_bindgen::to_value(response) {
        Ok(value) => {
            if let Err(e) = scope().post_message(&value) {
                web_sys::console::error_2(&"worker: cannot post a response".into(), &e);
            }
        }
        Err(e) => {
            web_sys::console::error_1(&format!("worker: cannot encode a response: {e}").into())
        }
    }
}

/// Installs the message handler, then tells the page it is ready (a message posted before the
/// handler exists would be lost, so the page waits for this).
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        post(&Response::Panic {
            message: info.to_string(),
        });
        console_error_panic_hook::hook(info);
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        let started = js_sys::Date::now();
        let mut response = match serde_wasm_bindgen::from_value::<Request>(event.data()) {
            Ok(request) => SESSION.with(|session| handle(&mut session.borrow_mut(), request)),
            Err(e) => Response::Error {
                id: None,
                message: format!("the page sent a malformed request ({e})"),
            },
        };
        match &mut response {
            Response::Loaded {
                wasm_memory_bytes, ..
            } => *wasm_memory_bytes = memory_bytes(),
            Response::Trace { compute_ms, .. } => *compute_ms = js_sys::Date::now() - started,
            _ => {}
        }
        post(&response);
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Response::Ready);
}

/// Size of this worker's wasm memory in bytes.
fn memory_bytes() -> usize {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as usize
}
