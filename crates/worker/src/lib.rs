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
