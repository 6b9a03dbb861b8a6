//! Attention Explorer: real language models, instrumented to explain self-attention.
//!
//! `engine` runs the models (native and wasm), `charts` draws them with plotters on any backend,
//! `worker` runs the engine in a Web Worker, and
//! `ui` is the page (browser only).
pub mod charts;
pub mod engine;
#[cfg(target_arch = "wasm32")]
pub mod ui;
pub mod worker;
