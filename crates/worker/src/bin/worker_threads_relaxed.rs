//! The threaded worker (`worker_threads`) with candle's matmul kernel on relaxed SIMD's fused
//! multiply-add (`--features threads,relaxed-simd`): threads/entry.js loads it where the
//! browser validates relaxed SIMD.
extern crate ae_worker;

fn main() {}
