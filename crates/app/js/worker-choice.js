// Which worker build this browser runs, and on how many threads: the app imports this module
// (crates/app/src/client/mod.rs, through wasm-bindgen), and Trunk copies it beside the pages
// for the measure and benchmark pages (public/measure-workers.js), so all three choose alike.

// A module of one function, `f32x4.relaxed_madd` of three constants: it validates exactly
// where the browser has relaxed SIMD.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of that type
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // v128.const 0, three times
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** Whether this browser validates relaxed SIMD, so it can run the builds with the fused
 *  multiply-add matmul kernel (`worker_relaxed`, `worker_threads_relaxed`). */
export function relaxedSimd() {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}

// Most threads the worker's pool gets. Measured on 2 cores only (BENCHMARKS.md, "Threads"):
// onnxruntime-web ran slower with more threads than cores.
const MAX_THREADS = 4;

/** Threads the worker may compute on here: the computer's cores (at most MAX_THREADS) where
 *  the page is cross-origin isolated (a pool shares its memory, which needs that) and has two
 *  or more; else 0: the single-threaded build, no pool. */
export function poolThreads() {
  const cores = navigator.hardwareConcurrency || 1;
  return globalThis.crossOriginIsolated === true && cores >= 2 ? Math.min(cores, MAX_THREADS) : 0;
}
