//! The Web Worker's entry point, built with `--features relaxed-simd` (index.html): the same
//! worker as `worker`, with candle's matmul kernel on relaxed SIMD's fused multiply-add. The app
//! starts this one only where the browser validates relaxed SIMD.
#[cfg(target_arch = "wasm32")]
fn main() {
    attention_explorer::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "this is the browser worker of Attention Explorer (relaxed SIMD build); build it with trunk (scripts/serve.sh)"
    );
    std::process::exit(2);
}
