//! The Web Worker's entry point, built with `--features relaxed-simd` (index.html): the same
//! worker as `worker`, with candle's matmul kernel on relaxed SIMD's fused multiply-add. The app
//! starts this one only where the browser validates relaxed SIMD.
fn main() {
    ae_worker::run_binary();
}
