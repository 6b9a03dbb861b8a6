// How V8's wasm tiering history changes the engine's speed in Chromium (a benchmark: prints a
// table, asserts nothing). Each case is a fresh browser: GPT-2 small (random weights) is loaded
// into the app's worker, a 32-token trace is timed, then a "trigger" runs in the same worker,
// then the same trace is timed again.
//   node scripts/bench-jit.mjs [--runs 3]
// Needs what scripts/bench.sh prepares (dist/, bench-models/gpt2-small, onnxruntime-web); run
// it alone (2 cores).
//
// Found 2026-12-02: after the floor's small matmuls (32 × 64 × 32 in all three orders) the same
// trace ran ~2× slower for as long as the process lived, with every extra millisecond in gemm's
// microkernel; not with --no-liftoff or --no-wasm-inlining-call-indirect (one run each). A long
// run of the app's own requests (predictions, traces, saliency at 8, 32 and 128 tokens, six
// each) did it too in some runs.
//
// Found 2026-12-03 (experiments, not kept in the code):
// - It is the process, not the machine: two renderer processes (two sites) alternating the same
//   trace, the one that had run the floor's matmuls was 1.58–1.76× slower in each of 16 rounds.
// - It is not inlining: --trace-wasm-inlining showed the microkernel compiled once, before the
//   first trace, and never inlined ("not enough inlining budget"). Slowdowns and recoveries came
//   with recompilations of its callers (candle's matmul dispatch, Layout::transpose …), whose
//   Liftoff and TurboFan frames differ in size.
// - It is where on the machine stack the kernel runs (its inner loop keeps 12 accumulators and
//   the operands live, more than x86's 16 SIMD registers, so V8 must spill): running the Linear
//   product 1–4 recursion frames deeper made the slow process as fast as the other, and back at
//   0 extra frames it was slow again, in 4 of 4 alternations; entering the worker's handler
//   under 56 extra JS frames made a fresh worker ~1.7× slower in both passes of a sweep.
// - A layer that times its products and moves one frame deeper when one is >1.35× the fastest
//   for its shape was tried; against the unchanged build in a second process it measured 0.86,
//   0.94 and 0.99 (medians of 40, 40 and 30 rounds), within this machine's own noise (a native
//   single-thread PyTorch matmul loop here has episodes of 1.4–1.5× lasting seconds). A second
//   version (8 depths, 7 frames apart) did not remove the slow windows in a sweep of the
//   worker's entry depth over 0–120 JS frames, two traces per depth: both traces >1.35× the
//   lower quartile at 4 of 121 depths, against 7 of 121 for the unchanged build, in windows at
//   the same places. Neither was kept.
//
// All of the above was the plain `worker` build. Since 2026-12-03 the app starts `worker_relaxed`
// (fused multiply-add kernel) where relaxed SIMD validates, as in Chromium, so this script now
// measures that build. Found that day (not kept in the code): the kernel's shape does not remove
// the slow state. A wasi build of candle's W·xᵀ at 128 × 768 × 3072 under 0–39 extra recursion
// frames (best of 5 per depth, node, two runs per kernel) had depths >1.25× its best for every
// shape tried: gemm's x3x4 (12 accumulators) plain 26–30 of 40 and fused 28–32; x3x3 (9, fewer
// spills) plain 34–36 and fused 22–27; fused x2x4 23–33; fused x2x6 0 and 12. Best times: fused
// x3x4 24.0–24.7 ms, x3x3 22.2–24.3, x2x4 24.3–25.1, x2x6 27.7–28.2; plain x3x4 26.3–28.4,
// x3x3 29.4–29.6. The machine was noisy that hour (fused x3x4 had run 21.0 ms with 12 slow
// depths earlier), so the vendored gemm-f32 keeps gemm's own x3x4.
//
// Found 2026-12-03, later (experiments, not kept in the code): unrelated code moves the whole
// engine in and out of the slow state, so op-level speed-ups cannot be judged in Node alone.
// - A Node profile of the page's trace (scripts/bench-wasi.sh --page-trace-only, plain build)
//   puts gemm at ~91 % at 32 tokens (microkernels 78 %, gemm_basic 11 %, mostly the 1-row LM
//   head) and ~85 % at 128 (pack_lhs 8 %); candle's strided copies (the weight-first products'
//   transposes) ~3 %, everything else below 1 % each.
// - Changes tried off the gradient path: candle-nn's fused softmax_last_dim, layer_norm and
//   rms_norm, GPT-2's GELU as one pass (x·σ(2u) per element), and the trace's arrays copied once
//   instead of stacked then copied. In Node (wasi, two alternating rounds) the page's trace was
//   292–293 → 296–326 ms at 32 tokens and 993 → 965–971 ms at 128: no gain beyond noise at 32
//   tokens, ~2.5 % at 128 (while a build ran beside it). Also tried there:
//   weight-first up to 128 rows (no change) and MR = 8 kernels only (x2x4: 0 % at 32 tokens,
//   +10 % at 128).
// - In Chromium (scripts/bench.mjs --lengths 32 --runs 3, fresh pages per case) two builds
//   with these changes ran GPT-2's 32-token trace at 2.04 and 2.14× the floor and DistilBERT's at
//   2.16 and 2.64×, against 1.49–1.50× and 1.56–1.57× for two builds of the unchanged code
//   (one from another folder) in the same hour. DistilBERT's predictions run none of the changed
//   code (no GELU-tanh, no RMSNorm, no trace copy; the second build also had the softmax and
//   LayerNorm back as before) and were still 1.6× slower (255 vs 158–161 ms): the slowdown
//   comes with the binary, not with the ops. Saliency, whose forward runs the unchanged ops,
//   moved less (+5–10 %). The changes were reverted (and candle-nn's fused layer_norm would
//   have been wrong to use anyway: it takes the variance as E[x²] − mean² in f32).
// - With --js-flags=--no-liftoff (bench.mjs's browser, --lengths 32 --runs 3, one run each) the
//   first changed build ran 1.50× the floor (GPT-2, 240 ms) and 1.47× (DistilBERT, 121 ms), the
//   unchanged code 1.48× (253 ms) and 1.49× (126 ms): the changed build's slowdown is gone, and
//   it is ~5 % faster in ms. So the "layout" effect above comes through V8's tiering from
//   Liftoff to TurboFan, not from the ops. The unchanged code gains too (301 → 253 ms at 32
//   tokens; onnxruntime 232 → 198 ms), so tiering costs every build something. A page cannot
//   pass V8 flags; what it can change (warm-up, call structure, module split) is untried.
//
// Found 2026-12-03, evening — the cause, and the fix (kept in the code): register spills.
// - `node --print-wasm-code` on the wasi bench (scripts/bench-wasi.sh) shows TurboFan's code for
//   gemm's kernels. The 12 × 4 kernel's inner loop (k unrolled by 2) held 48 SIMD multiplies and
//   adds and 26 SIMD loads and stores through the machine stack ([rbp-…], 16-byte values), i.e.
//   its accumulators did not fit x86's 16 xmm registers. The 8 × 4 kernel unrolled by 2 still
//   had 14; the 8 × 4 kernel without the unroll has none (8 accumulators + 2 + 4 registers).
// - Stack depth sweep in Node (the page's 32-token trace, the wasi bench started under 0–23
//   extra JS frames, one process each): the published kernels 237–332 ms with 2 of 24 depths
//   1.3–1.4× slower; 12-row kernels without the unroll ~217 ms, 1 slow depth; 8-row kernels
//   without the unroll 194–210 ms, no slow depth. At 128 tokens (8 depths) 791–957 → 635–663 ms.
// - vendor/gemm-f32 now has only the 8-row kernels, not unrolled (vendor/README.md). This
//   script then measured after ÷ before 0.95, 0.99, 0.94, 0.96 for the four cases below, and
//   0.94, 1.00, 0.96, 0.94 in a second run: the slow state is gone.
import { resolve } from 'node:path';
import { start } from '../tests/e2e/support.mjs';
import { makeBenchSite } from './bench-site.mjs';

const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 3);
const site = makeBenchSite(resolve(new URL('..', import.meta.url).pathname));
const text = (n) => 'the' + ' the'.repeat(n - 1);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The floor's small matmuls, timed eight times in the measured worker. */
async function floorSmallMatmuls(page) {
  for (let i = 0; i < 8; i++) await page.evaluate(() => window.bench.timeMatmuls([[32, 64, 32], [32, 32, 64]], 1));
}

/** The benchmark's own request sequence without the floor: at 8, 32 and 128 tokens six
 *  predictions, six traces and six saliency maps. */
async function appRequests(page) {
  for (const n of [8, 32, 128]) {
    for (let i = 0; i < 6; i++) await page.evaluate((t) => window.bench.predictOnce(t), text(n));
    for (let i = 0; i < 6; i++) await page.evaluate((t) => window.bench.traceOnce(t), text(n));
    await page.evaluate((t) => window.bench.timeSaliency(t, 5), text(n));
  }
}

const CASES = [
  ['(none)', 'floor\'s small matmuls', floorSmallMatmuls],
  ['--no-liftoff', 'floor\'s small matmuls', floorSmallMatmuls],
  ['--no-wasm-inlining-call-indirect', 'floor\'s small matmuls', floorSmallMatmuls],
  ['(none)', 'app requests 8–128 tokens', appRequests],
];

const rows = [];
for (const [flags, label, trigger] of CASES) {
  const { origin, browser, close } = await start(site, {}, flags.startsWith('--') ? [`--js-flags=${flags}`] : []);
  const page = await browser.newPage();
  await page.goto(`${origin}/bench.html`);
  await page.evaluate(() => window.bench.startWorker());
  await page.evaluate(() => window.bench.loadModel('bench-models/gpt2-small'));
  const traces = async () => {
    await page.evaluate((t) => window.bench.traceOnce(t), text(32));
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push((await page.evaluate((t) => window.bench.traceOnce(t), text(32))).computeMs);
    return median(times);
  };
  const before = await traces();
  await trigger(page);
  const after = await traces();
  await close();
  rows.push(`| ${flags} | ${label} | ${before.toFixed(0)} | ${after.toFixed(0)} | ${(after / before).toFixed(2)} |`);
  console.error(rows.at(-1));
}
console.log(`GPT-2 small, 32-token trace in the worker (median of ${RUNS} after one warm-up), ms\n`);
console.log('| V8 flags | trigger in the same worker | before | after | after ÷ before |');
console.log('|---|---|---:|---:|---:|');
for (const row of rows) console.log(row);
