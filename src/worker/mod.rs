//! The Web Worker that runs the engine off the main thread. `protocol` (one request and one
//! response enum) compiles everywhere; the worker's event loop only in the browser.
pub mod protocol;
#[cfg(target_arch = "wasm32")]
mod runtime;

#[cfg(target_arch = "wasm32")]
pub use runtime::start;

/// `main` of the worker binaries (`worker`, and `worker_relaxed` built with `--features
/// relaxed-simd`): in the browser it starts the worker; natively it says how to build one.
pub fn run_binary() {
    #[cfg(target_arch = "wasm32")]
    start();
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!(
            "this is the browser worker of Attention Explorer; build it with trunk (scripts/serve.sh)"
        );
        std::process::exit(2);
    }
}
