//! The Web Worker that runs the engine off the main thread: a [`Session`] answers the page's
//! requests (`ae_messages::Request`) one at a time; `runtime` is its event loop in the browser.
//! Everything but the event loop compiles natively, so the tests and the benchmark drive the
//! same session the page does.
mod benchmark;
mod limits;
#[cfg(target_arch = "wasm32")]
mod runtime;
mod session;

pub use session::{handle, Session};

/// `main` of the worker binaries (`worker`, and `worker_relaxed` built with `--features
/// relaxed-simd`): in the browser it starts the worker; natively it says how to build one.
pub fn run_binary() {
    #[cfg(target_arch = "wasm32")]
    runtime::start();
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!(
            "this is the browser worker of Attention Explorer; build it with trunk (scripts/serve.sh)"
        );
        std::process::exit(2);
    }
}

/// The pool's start (`initThreadPool(n)` in JS), exported by the threaded build.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Starts the threaded worker once its pool of `threads` threads runs: products are cut into
/// as many blocks as there are threads.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn start_threaded(threads: usize) {
    ae_engine::set_pieces(threads);
    runtime::start();
}
