//! The Web Worker that runs the engine off the main thread. `protocol` (one request and one
//! response enum) compiles everywhere; the worker's event loop only in the browser.
pub mod protocol;
#[cfg(target_arch = "wasm32")]
mod runtime;

#[cfg(target_arch = "wasm32")]
pub use runtime::start;
