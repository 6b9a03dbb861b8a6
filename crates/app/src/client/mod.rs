//! The page's side of the worker, as an async API: [`request`] and [`load`] return futures of
//! the worker's answer. The client owns the worker and the [`Queue`] of what waits for it (the
//! worker runs one request at a time); dropping a future cancels its request if it has not been
//! sent. It writes nothing into the page's state: its only signals are its own [`Status`].
//! It restarts the worker when it dies, failing what was waiting.
mod owned;
mod queue;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_channel::oneshot;
use js_sys::Uint8Array;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::clock::now_ms;
use crate::i18n::{current, tr, trf};
use ae_messages::{EngineError, Envelope, Request, Response, WorkerMessage, WEIGHTS_FIELD};
pub use owned::{owned_request, Owned};
use queue::{Priority, Queue, Ticket};

/// The files the worker builds a model from.
pub struct ModelFiles {
    pub config: Vec<u8>,
    pub tokenizer: Vec<u8>,
    /// A translator's target_tokenizer.json, when it has one.
    pub target_tokenizer: Option<Vec<u8>>,
    /// model.safetensors or a .gguf file, transferred to the worker (not copied).
    pub model: Uint8Array,
}

/// The worker's answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The request's envelope id (a trace's id names it in later `Layer` requests).
    pub id: u32,
    pub response: Response,
    /// How long the worker computed.
    pub compute_ms: f64,
    /// The worker's wasm memory after answering.
    pub wasm_memory_bytes: usize,
    /// How long the page took to read the message (copying its arrays in).
    pub read_ms: f64,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The engine refused: bad input, or a request it cannot serve.
    Engine(EngineError),
    /// The model files did not make a model.
    LoadFailed(EngineError),
    /// The worker cannot be started or reached, or it died.
    Worker(WorkerTrouble),
}

/// What went wrong with the worker itself.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerTrouble {
    CannotStart(String),
    CannotSend(String),
    /// The page could not read the worker's message.
    Unreadable(String),
    /// The worker crashed (it is restarted).
    Crashed(String),
    /// An answer of another kind than the request's: a bug in the page or the worker.
    WrongAnswer,
    /// No worker runs to answer (it could not be started).
    Gone,
}

impl Failure {
    /// An answer of another kind than the request's: a bug in the page or the worker.
    pub fn unexpected() -> Self {
        Failure::Worker(WorkerTrouble::WrongAnswer)
    }

    /// The message in the page's language.
    pub fn describe(&self) -> String {
        match self {
            Failure::Engine(error) | Failure::LoadFailed(error) => error.words(current()),
            Failure::Worker(WorkerTrouble::CannotStart(e)) => {
                trf("client.cannot_start", &[("error", e)])
            }
            Failure::Worker(WorkerTrouble::CannotSend(e)) => {
                trf("client.cannot_reach", &[("error", e)])
            }
            Failure::Worker(WorkerTrouble::Unreadable(e)) => {
                trf("client.unreadable", &[("error", e)])
            }
            Failure::Worker(WorkerTrouble::Crashed(reason)) => {
                trf("client.crashed", &[("reason", reason)])
            }
            Failure::Worker(WorkerTrouble::WrongAnswer) => tr("client.wrong_answer"),
            Failure::Worker(WorkerTrouble::Gone) => tr("client.gone"),
        }
    }
}

/// What the page may show of the client: whether the worker computes, and its crashes.
#[derive(Clone, Copy)]
pub struct Status {
    /// A request is running.
    pub busy: RwSignal<bool>,
    /// Counts the worker's crashes: the app reloads the model when it changes.
    pub restarts: RwSignal<u32>,
    /// The last failure of a request whose asker still waited for it.
    pub failure: RwSignal<Option<Failure>>,
    /// How far the running request is (done, total), when it reports it; `None` once it
    /// is answered.
    pub progress: RwSignal<Option<(usize, usize)>>,
}

enum Payload {
    Message(Request),
    Load(ModelFiles),
}

struct Job {
    payload: Payload,
    reply: oneshot::Sender<Result<Answer, Failure>>,
}

struct Client {
    worker: Worker,
    ready: bool,
    queue: Queue<Job>,
    /// Where the running request's answer goes.
    running_reply: Option<oneshot::Sender<Result<Answer, Failure>>>,
    /// A pump is scheduled for after the current event.
    pump_scheduled: bool,
    status: Status,
    /// The threaded build (see [`new_worker`]).
    threaded: bool,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

// The choice of build and pool lives in one module, which the measure and benchmark pages
// import too (their copy is Trunk's, beside the pages).
#[wasm_bindgen(module = "/js/worker-choice.js")]
extern "C" {
    /// Whether this browser validates relaxed SIMD, so it can run the builds with the fused
    /// multiply-add matmul kernel.
    #[wasm_bindgen(js_name = relaxedSimd)]
    fn has_relaxed_simd() -> bool;
    /// Threads the worker may compute on here: the cores (at most 4) where the page is
    /// cross-origin isolated and has two or more; 0 otherwise.
    #[wasm_bindgen(js_name = poolThreads)]
    fn threads_here() -> usize;
}

/// The single-threaded worker this browser can run: the relaxed-SIMD build where relaxed SIMD
/// validates, otherwise the plain SIMD build.
pub fn worker_script() -> &'static str {
    match has_relaxed_simd() {
        true => "./worker_relaxed_loader.js",
        false => "./worker_loader.js",
    }
}

thread_local! {
    /// The threaded worker failed to start here (e.g. a host without its files): the page
    /// runs the single-threaded one from then on.
    static THREADS_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Threads the worker may compute on here ([`threads_here`]), unless the threaded worker
/// failed to start before; `None`: the single-threaded build.
fn pool_threads() -> Option<usize> {
    if THREADS_FAILED.with(|failed| failed.get()) {
        return None;
    }
    Some(threads_here()).filter(|&threads| threads >= 2)
}

/// A new worker, and whether it is the threaded one: that build (threads/, a module worker)
/// where [`pool_threads`] allows, else the single-threaded build this browser runs.
fn new_worker() -> Result<(Worker, bool), JsValue> {
    match pool_threads() {
        Some(threads) => {
            let options = WorkerOptions::new();
            options.set_type(WorkerType::Module);
            let relaxed = u8::from(has_relaxed_simd());
            let script = format!("./threads/entry.js?threads={threads}&relaxed={relaxed}");
            Ok((Worker::new_with_options(&script, &options)?, true))
        }
        None => Ok((Worker::new(worker_script())?, false)),
    }
}

/// Starts the worker; the page reads the returned status.
pub fn start() -> Status {
    let status = Status {
        busy: RwSignal::new(false),
        restarts: RwSignal::new(0),
        failure: RwSignal::new(None),
        progress: RwSignal::new(None),
    };
    start_worker(status, Queue::default());
    status
}

/// Starts a worker with `queue` waiting for it (empty, or ticket numbers kept after a crash).
fn start_worker(status: Status, queue: Queue<Job>) {
    let (worker, threaded) = match new_worker() {
        Ok(started) => started,
        Err(e) => {
            let trouble = WorkerTrouble::CannotStart(format!("{e:?}"));
            status.failure.set(Some(Failure::Worker(trouble)));
            return;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        // Reading the message copies its arrays into this page's wasm memory: the page's share
        // of a trace's transfer, which the trace reports beside the worker's time.
        let started_ms = now_ms();
        let message = serde_wasm_bindgen::from_value::<WorkerMessage>(event.data());
        let read_ms = now_ms() - started_ms;
        match message {
            Ok(message) => receive(message, read_ms),
            Err(e) => answer_running(Err(Failure::Worker(WorkerTrouble::Unreadable(
                e.to_string(),
            )))),
        }
    });
    // A script error is an ErrorEvent; a module worker whose script does not load gets a
    // plain Event ("error").
    let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
        event.prevent_default();
        let reason = match event.dyn_ref::<ErrorEvent>() {
            Some(error) => format!("{} (line {})", error.message(), error.lineno()),
            None => event.type_(),
        };
        crashed(reason);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let old = CLIENT.with(|c| {
        c.borrow_mut().replace(Client {
            worker,
            threaded,
            ready: false,
            queue,
            running_reply: None,
            pump_scheduled: false,
            status,
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
    status.busy.set(false);
}

/// The worker died: what was running or waiting fails, and a new worker starts. A threaded
/// worker that dies before it is ready is replaced by the single-threaded one, and nothing
/// fails.
fn crashed(reason: String) {
    let threads_failed = CLIENT.with(|c| {
        let mut client = c.borrow_mut();
        let client = client.as_mut()?;
        (client.threaded && !client.ready)
            .then(|| (client.status, std::mem::take(&mut client.queue)))
    });
    if let Some((status, queue)) = threads_failed {
        web_sys::console::warn_2(&"worker_threads:".into(), &reason.into());
        THREADS_FAILED.with(|failed| failed.set(true));
        leptos::task::spawn_local(async move { start_worker(status, queue) });
        return;
    }
    let taken = CLIENT.with(|c| {
        let mut client = c.borrow_mut();
        let client = client.as_mut()?;
        let mut replies: Vec<_> = client.queue.drain().into_iter().map(|j| j.reply).collect();
        replies.extend(client.running_reply.take());
        // The ticket counter carries over, so a cancelled old ticket never matches a new one.
        let queue = std::mem::take(&mut client.queue);
        Some((client.status, queue, replies))
    });
    let Some((status, queue, replies)) = taken else {
        return;
    };
    let failure = Failure::Worker(WorkerTrouble::Crashed(reason));
    for reply in replies {
        let _ = reply.send(Err(failure.clone()));
    }
    status.failure.set(Some(failure));
    // This runs inside the dying worker's own event handler; replacing the client drops that
    // handler, so restart from a fresh task.
    leptos::task::spawn_local(async move {
        start_worker(status, queue);
        status.restarts.update(|n| *n += 1);
    });
}

/// A request on its way; dropping it cancels the request if it has not been sent.
pub struct Pending {
    ticket: Ticket,
    answer: oneshot::Receiver<Result<Answer, Failure>>,
}

impl Future for Pending {
    type Output = Result<Answer, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(Failure::Worker(WorkerTrouble::Gone))))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let ticket = self.ticket;
        CLIENT.with(|c| {
            if let Ok(mut client) = c.try_borrow_mut() {
                if let Some(client) = client.as_mut() {
                    client.queue.cancel(ticket);
                }
            }
        });
    }
}

/// Asks the worker; tokens and traces go before the panels' analyses.
pub fn request(request: Request) -> Pending {
    let priority = match request {
        Request::Load { .. } => Priority::Load,
        Request::Tokenize { .. } => Priority::Tokens,
        Request::Trace { .. } | Request::TranslationTrace { .. } => Priority::Trace,
        _ => Priority::Analysis,
    };
    enqueue(priority, Payload::Message(request))
}

/// Sends model files to the worker to build a model, before anything else waiting.
pub fn load(files: ModelFiles) -> Pending {
    enqueue(Priority::Load, Payload::Load(files))
}

fn enqueue(priority: Priority, payload: Payload) -> Pending {
    let (reply, answer) = oneshot::channel();
    let job = Job { payload, reply };
    let ticket = CLIENT.with(|c| {
        let mut client = c.borrow_mut();
        let client = client.as_mut()?;
        let ticket = client.queue.push(priority, job);
        schedule_pump(client);
        Some(ticket)
    });
    // Without a client the job (and its reply) is dropped: the future fails at once.
    Pending {
        ticket: ticket.unwrap_or(Ticket(0)),
        answer,
    }
}

/// Sends the next request once the current event is handled, so the requests one change makes
/// (a text's tokens and trace, asked by two components in any order) are all queued before the
/// queue chooses which goes first.
fn schedule_pump(client: &mut Client) {
    if client.pump_scheduled {
        return;
    }
    client.pump_scheduled = true;
    let pump_later = Closure::once_into_js(|| {
        CLIENT.with(|c| {
            if let Some(client) = c.borrow_mut().as_mut() {
                client.pump_scheduled = false;
                pump(client);
            }
        })
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(pump_later.unchecked_ref(), 0);
    }
}

/// Sends the next waiting request if the worker is ready and idle.
fn pump(client: &mut Client) {
    if !client.ready {
        return;
    }
    let Some((ticket, job)) = client.queue.start_next() else {
        return;
    };
    match post(&client.worker, ticket.0, job.payload) {
        Ok(()) => {
            client.running_reply = Some(job.reply);
            client.status.busy.set(true);
        }
        Err(e) => {
            client.queue.finish();
            let _ = job
                .reply
                .send(Err(Failure::Worker(WorkerTrouble::CannotSend(e))));
            pump(client);
        }
    }
}

/// Posts one envelope; a load's weights go beside it, their buffer transferred (the page has no
/// further use for it: a reload reads the cache again).
fn post(worker: &Worker, id: u32, payload: Payload) -> Result<(), String> {
    let js_error = |e: JsValue| format!("{e:?}");
    match payload {
        Payload::Message(request) => {
            let message = serde_wasm_bindgen::to_value(&Envelope { id, request })
                .map_err(|e| e.to_string())?;
            worker.post_message(&message).map_err(js_error)
        }
        Payload::Load(files) => {
            let request = Request::Load {
                config: files.config,
                tokenizer: files.tokenizer,
                target_tokenizer: files.target_tokenizer,
            };
            let message = serde_wasm_bindgen::to_value(&Envelope { id, request })
                .map_err(|e| e.to_string())?;
            js_sys::Reflect::set(&message, &WEIGHTS_FIELD.into(), &files.model)
                .map_err(js_error)?;
            let transfer = js_sys::Array::of1(&files.model.buffer());
            worker
                .post_message_with_transfer(&message, &transfer)
                .map_err(js_error)
        }
    }
}

/// Applies one of the worker's messages; `read_ms` is how long reading it took.
fn receive(message: WorkerMessage, read_ms: f64) {
    match message {
        WorkerMessage::Ready => {
            CLIENT.with(|c| {
                if let Some(client) = c.borrow_mut().as_mut() {
                    client.ready = true;
                    pump(client);
                }
            });
        }
        WorkerMessage::Answer {
            id,
            compute_ms,
            wasm_memory_bytes,
            response,
            ..
        } => {
            let answer = match response {
                Response::Error { error } => Err(Failure::Engine(error)),
                Response::LoadFailed { error } => Err(Failure::LoadFailed(error)),
                response => Ok(Answer {
                    id,
                    response,
                    compute_ms,
                    wasm_memory_bytes,
                    read_ms,
                }),
            };
            answer_running(answer);
        }
        // The worker could not read the request (a bug in the page): the running request fails,
        // and the worker is free again. Nothing failed to load.
        WorkerMessage::Unreadable { error } => answer_running(Err(Failure::Engine(error))),
        WorkerMessage::Progress { done, total, .. } => CLIENT.with(|c| {
            if let Some(client) = c.borrow().as_ref() {
                client.status.progress.set(Some((done, total)));
            }
        }),
        WorkerMessage::Panic { message } => crashed(message),
    }
}

/// Hands the running request its answer (if its asker still waits) and starts the next.
fn answer_running(answer: Result<Answer, Failure>) {
    let reply = CLIENT.with(|c| {
        let mut client = c.borrow_mut();
        let client = client.as_mut()?;
        client.queue.finish();
        client.status.busy.set(false);
        client.status.progress.set(None);
        Some((client.running_reply.take(), client.status))
    });
    let Some((reply, status)) = reply else {
        return;
    };
    if let Err(failure) = &answer {
        // Shown unless its asker has gone (a newer request replaced it); an answer to nothing
        // running is a bug, and shown too.
        if reply.as_ref().is_none_or(|r| !r.is_canceled()) {
            status.failure.set(Some(failure.clone()));
        }
    }
    if let Some(reply) = reply {
        let _ = reply.send(answer);
    }
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            pump(client);
        }
    });
}
