// The browser benchmark (scripts/bench.sh runs it): one headless Chromium session against the
// release build, single-threaded wasm, then the threaded build (scripts/bench-threads.mjs). Prints a Markdown table and writes BENCHMARKS.md.
//
//   node scripts/bench.mjs [--lengths 8,32,128,512] [--runs 5] [--out BENCHMARKS.md] [--cold-mb 512]
//
// Needs dist/ (trunk build --release), bench-models/ (tools/make_bench_models.py, tools/to-f16)
// and onnxruntime-web in .cache/bench-node (scripts/bench.sh installs it).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { start } from '../tests/e2e/support.mjs';
import { makeBenchSite, openBenchPage } from './bench-site.mjs';
import { benchThreads, threadsSection } from './bench-threads.mjs';
import { MODELS, fastest, floorMs, flops, forwardMatmuls, median, ms, saliencyMatmuls } from './bench-shapes.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const LENGTHS = option('lengths', '8,32,128,512').split(',').map(Number);
const RUNS = Number(option('runs', '5'));
const OUT = option('out', 'BENCHMARKS.md');
// The cold floor spreads each shape's products over this many MB of distinct weights: more than
// the last-level cache (lscpu reports 480 MiB of L3 on the machine this was written on).
const COLD_MB = Number(option('cold-mb', '512'));
// Up to this many rows the cold floor is timed (a forward pass at 8 or 32 tokens, and the heads).
const COLD_MAX_ROWS = 64;
const ROOT = resolve(new URL('..', import.meta.url).pathname);

// The site: dist/ plus the models, onnxruntime-web and the benchmark page (symlinks).
const site = makeBenchSite(ROOT);

/** t5-small's shape: an encoder–decoder with heads of d_kv width and ReLU MLPs. */
const T5 = { folder: 'bench-models/t5-small', name: 't5-small (random weights, 60M)', layers: 6, d: 512, dKv: 64,
             heads: 8, ff: 2048, vocab: 32128 };
/** The matmuls of an encoder–decoder trace of `s` source and `t` target tokens, as
 *  forwardMatmuls lists them: the encoder's blocks, the decoder's (self-attention, cross-attention
 *  with its keys and values from the source, MLP) and the LM head at every target position. */
function encoderDecoderMatmuls(model, s, t) {
  const { layers, d, dKv, heads, ff, vocab } = model;
  const inner = dKv * heads;
  const block = (rows, keys) => [
    [[rows, dKv, keys], heads * layers, 'activations'], // scores per head
    [[rows, keys, dKv], heads * layers, 'activations'], // weights × v per head
  ];
  const mlp = (rows) => [[[rows, d, ff], layers, 'weight'], [[rows, ff, d], layers, 'weight']];
  return [
    [[s, d, inner], 3 * layers, 'weight'], [[s, inner, d], layers, 'weight'], ...block(s, s), ...mlp(s),
    [[t, d, inner], 3 * layers, 'weight'], [[t, inner, d], layers, 'weight'], ...block(t, t),
    [[t, d, inner], layers, 'weight'], [[s, d, inner], 2 * layers, 'weight'], [[t, inner, d], layers, 'weight'],
    ...block(t, s), ...mlp(t),
    [[t, d, vocab], 1, 'weight'],
  ];
}
const log = (...parts) => console.error(new Date().toISOString().slice(11, 19), ...parts);
const { origin, browser, close } = await start(site);
const browserVersion = browser.version();

/** A fresh benchmark page at `host` (see openBenchPage). */
const benchPage = (label, host = '127.0.0.1') => openBenchPage(browser, origin.replace('127.0.0.1', host), label, log);

// Every case (model × length) runs in fresh processes: the measured page, and the floor's page
// beside it. A fresh process is what a student has who has just opened the page. It was also
// needed: until 2026-12-03 a process's history changed how fast gemm's kernel ran there (timing
// the floor's small matmuls in the measured process made the engine's own matmuls ~2× slower
// from then on, and so, in some runs, did a long run of the app's own requests), because V8
// spilled the 12-row kernel's SIMD values to the machine stack. The vendored 8-row kernel does
// not spill (vendor/README.md) and scripts/bench-jit.mjs no longer sees the effect; the fresh
// processes are kept so that each case starts alike.
let measured = await benchPage('measured');
let call = measured.call;
// The worker build the app starts in this browser (the relaxed-SIMD one where it validates).
const WORKER = await call('workerName');
log(`worker build: ${WORKER}`);
let floorPage = await benchPage('floor', 'localhost');
let floorCall = floorPage.call;

/** Fresh measured and floor pages, their workers started; the measured one with `folder` loaded.
 *  Resolves to the load's numbers. */
async function freshPages(folder) {
  await measured.close();
  await floorPage.close();
  measured = await benchPage('measured');
  call = measured.call;
  floorPage = await benchPage('floor', 'localhost');
  floorCall = floorPage.call;
  await floorCall('startWorker');
  await call('startWorker');
  return call('loadModel', folder);
}

// The rival runs in a page of its own too: its 0.5–2 GB of wasm memory and its compilation stay
// out of the measured process.
const ortPage = await benchPage('onnxruntime');
const ortCall = ortPage.call;

// The floor: the same browser's candle matmul at every shape the forward passes use.
log('timing matmuls (the floor)');
await floorCall('startWorker');
const shapeTimes = new Map();
const allShapes = [];
// The shapes whose right operand is a weight (forwardMatmuls): only these are timed cold.
const weightShapes = new Set();
const isWeightShape = (shape) => weightShapes.has(shape.join('x'));
for (const key of Object.keys(MODELS)) {
  for (const n of LENGTHS) {
    for (const rows of [n, 1]) {
      for (const [shape, , operand] of forwardMatmuls(MODELS[key], n, rows)) {
        const id = shape.join('x');
        if (!shapeTimes.has(id)) { shapeTimes.set(id, null); allShapes.push(shape); }
        if (operand === 'weight') weightShapes.add(id);
      }
    }
  }
}
// Twice: the first pass lets V8 tier the worker's code up to optimised wasm (its first products
// ran up to 2.5× slower); the second is the table's.
for (const runs of [1, RUNS]) {
  for (let i = 0; i < allShapes.length; i += 4) {
    const batch = allShapes.slice(i, i + 4);
    const { kn, nk, wf, en } = await floorCall('timeMatmuls', batch, runs);
    batch.forEach((shape, j) => shapeTimes.set(shape.join('x'), { kn: kn[j], nk: nk[j], wf: wf[j], en: en[j] }));
  }
}

// The same shapes with cold weights, once: a forward pass reads each weight from memory, not from
// the cache the floor's repeated product leaves it in. Attention's per-head products multiply
// activations, which are in cache, so they keep their (warm) floor time.
log(`timing matmuls with cold weights (${COLD_MB} MB of copies per shape, up to ${COLD_MAX_ROWS} rows)`);
const coldTimes = new Map();
for (const shape of allShapes.filter((shape) => shape[0] <= COLD_MAX_ROWS && isWeightShape(shape))) {
  const { kn, nk, wf, en } = await floorCall('timeMatmuls', [shape], 3, COLD_MB << 20);
  coldTimes.set(shape.join('x'), { kn: kn[0], nk: nk[0], wf: wf[0], en: en[0] });
}
/** The floor of `list` with every weight cold (the fastest order per shape), or null when a
 *  shape was not timed cold. */
const coldFloorMs = (list) => list.reduce((sum, [shape, count]) => {
  if (sum === null) return null;
  const t = (isWeightShape(shape) ? coldTimes : shapeTimes).get(shape.join('x'));
  return t ? sum + count * fastest(t) : null;
}, 0);

/** The floor beside the work, so a machine that slows down or speeds up over minutes moves
 *  both alike: one warm-up of `work`, then RUNS rounds, each timing this forward pass's matmuls
 *  (`list` = [[m, k, n], count] pairs, the fastest order per shape) in the floor's page right
 *  before one run of `work` here. Resolves to every round's {floorMs, ...work's result}. */
async function besideFloor(list, work) {
  const floor = () => floorMs(floorCall, list);
  await work();
  const rounds = [];
  for (let i = 0; i < RUNS; i++) {
    const floorMs = await floor();
    rounds.push({ floorMs, ...(await work()) });
  }
  return rounds;
}

const rows = [];
const loads = [];
const ortSessions = {};

/** onnxruntime-web on `file` (in its page) and our trace (in the worker, which holds the same
 *  GPT-2) in alternation: one warm-up each, then RUNS rounds of one ort run and one trace, so
 *  both see the machine in the same state. Resolves to {ms, oursMs, ratio} (medians). */
async function besideOrt(variant, file, text, ids) {
  const session = await ortCall('ortCreate', file);
  ortSessions[variant] ??= session;
  await ortCall('ortOnce', ids);
  await call('traceOnce', text);
  const rounds = [];
  for (let i = 0; i < RUNS; i++) {
    const ortMs = await ortCall('ortOnce', ids);
    rounds.push({ ortMs, ...(await call('traceOnce', text)) });
  }
  await ortCall('ortRelease');
  return { ms: median(rounds.map((r) => r.ortMs)), oursMs: median(rounds.map((r) => r.computeMs)),
           ratio: median(rounds.map((r) => r.computeMs / r.ortMs)) };
}

for (const [key, model] of Object.entries(MODELS)) {
  for (const n of LENGTHS) {
    log(`${key} ${n} tokens: fresh pages, loading ${model.name}`);
    const load = await freshPages(model.folder);
    if (n === LENGTHS[0]) loads.push({ name: model.name, file: 'f32', ...load });
    const text = model.text(n);
    const ids = await call('tokenIds', text);
    if (ids.length !== n) throw new Error(`${key}: ${ids.length} tokens, wanted ${n}`);
    // The LM head runs where the model predicts: GPT-2's last position, DistilBERT's one [MASK].
    const traceList = forwardMatmuls(model, n, 1);
    const predictList = forwardMatmuls(model, n, 1);
    log(`${key} ${n} tokens: predictions, each beside the floor`);
    // No trace runs between these predictions, so the worker cannot answer from a trace's logits.
    const predictRounds = await besideFloor(predictList, () => call('predictOnce', text));
    log(`${key} ${n} tokens: trace, each beside the floor`);
    const traceRounds = await besideFloor(traceList, () => call('traceOnce', text));
    if (!traceRounds.every((r) => r.memoryBytes > 0)) throw new Error(`${key}: a trace reported no wasm memory`);
    log(`${key} ${n} tokens: switching layers`);
    const layerSwitchMs = await call('timeLayerSwitch', text, RUNS, model.layers);
    log(`${key} ${n} tokens: saliency`);
    const saliencyMs = await call('timeSaliency', text, RUNS);
    // The rival on the same GPT-2 right after, twice: the graph as transformers returns it
    // (logits at every position) and with the LM head at the last position only (the work our
    // trace does for the head).
    const ort = {};
    if (model.onnx) {
      for (const [variant, file] of [['next', model.onnxNext], ['all', model.onnx]]) {
        log(`${key} ${n} tokens: onnxruntime-web (${variant}), alternating with our trace`);
        ort[`ort_${variant}`] = await besideOrt(variant, file, text, ids);
      }
    }
    rows.push({ key, model: model.name, n, ids, saliencyMs, layerSwitchMs, ...ort,
                predictMs: median(predictRounds.map((r) => r.ms)),
                predictFloorMs: median(predictRounds.map((r) => r.floorMs)),
                predictRatio: median(predictRounds.map((r) => r.ms / r.floorMs)),
                trace: { computeMs: median(traceRounds.map((r) => r.computeMs)),
                         transferMs: median(traceRounds.map((r) => r.transferMs)) },
                traceFloorMs: median(traceRounds.map((r) => r.floorMs)),
                traceRatio: median(traceRounds.map((r) => r.computeMs / r.floorMs)),
                traceRatios: traceRounds.map((r) => r.computeMs / r.floorMs),
                traceColdFloorMs: coldFloorMs(traceList),
                memoryBytes: Math.max(...traceRounds.map((r) => r.memoryBytes)), weightBytes: load.parameters * 4,
                traceFlops: flops(traceList), predictFlops: flops(predictList),
                saliencyFlops: flops(saliencyMatmuls(model, n)) });
  }
}

// Appending one token to GPT-2 small's text: the extended trace (only the new position
// computed) beside a trace of the same text from scratch, in alternation; then "Generate" in
// the app's order, 20 tokens after a 32-token prompt.
const appends = [];
log('gpt2: appending one token, extended and from scratch, and generating 20 tokens');
await freshPages(MODELS.gpt2.folder);
for (const n of LENGTHS.filter((n) => n >= 32)) {
  const [text, longer] = [MODELS.gpt2.text(n), MODELS.gpt2.text(n + 1)];
  const [ids, longerIds] = [await call('tokenIds', text), await call('tokenIds', longer)];
  if (longerIds.length !== n + 1 || ids.some((id, i) => id !== longerIds[i])) throw new Error(`gpt2: ${n} + 1 tokens do not extend ${n}`);
  appends.push({ n, ...(await call('timeAppend', text, longer, RUNS)) });
}
const generation = await call('timeGeneration', MODELS.gpt2.text(32), 20);

// Ecco's views on GPT-2 small at 32 tokens: the NMF of all 12 layers' neuron activations
// (32 × 36 864) at 2, 8 and 18 factors, re-fitted as a student drags the factor count, and the
// rankings grid (every layer's residual stream through the head at every position).
log('gpt2 32 tokens: NMF and rankings');
await freshPages(MODELS.gpt2.folder);
const neuronViews = await call('timeNeuronViews', MODELS.gpt2.text(32), MODELS.gpt2.layers, [2, 8, 18], RUNS);

// Half-precision weights: load only.
log('loading the f16 copy of GPT-2 small');
loads.push({ name: MODELS.gpt2.name, file: 'f16', ...(await freshPages('bench-models/gpt2-small-f16')) });

// SmolLM2-135M-Instruct, the real Llama the set-up hosts (Q4_1 GGUF, dequantised to f32 on
// load), at 32 tokens, if scripts/fetch-assets.sh placed it in the site.
const SMOLLM2 = 'models/SmolLM2-135M-Instruct';
let smollm2 = null;
if (existsSync(join(ROOT, 'dist', SMOLLM2, 'model.gguf'))) {
  log('loading SmolLM2-135M-Instruct (GGUF)');
  const load = await freshPages(SMOLLM2);
  loads.push({ name: 'SmolLM2-135M-Instruct (real weights)', file: 'Q4_1 GGUF', ...load });
  const text = MODELS.gpt2.text(32);
  const ids = await call('tokenIds', text);
  log(`smollm2 ${ids.length} tokens: predictions, trace, saliency`);
  smollm2 = { n: ids.length, predictMs: await call('timePredict', text, RUNS),
              trace: await call('timeTrace', text, RUNS), saliencyMs: await call('timeSaliency', text, RUNS) };
}

// t5-small's shape, random weights: a trace of 32 source and 32 target tokens (the decoder start
// token and 31) beside its matmul floor, saliency over both sides, writing 32 tokens greedily and
// with beam search of width 3, and the worker's memory ÷ the weights.
let t5 = null;
if (existsSync(join(ROOT, T5.folder, 'model.safetensors'))) {
  log('t5-small: fresh pages, loading');
  const load = await freshPages(T5.folder);
  loads.push({ name: T5.name, file: 'f32', ...load });
  const text = MODELS.gpt2.text(31);
  const list = encoderDecoderMatmuls(T5, 32, 32);
  log('t5-small: trace of 32 + 32 tokens, each beside the floor');
  const rounds = await besideFloor(list, () => call('translationOnce', text, text));
  log('t5-small: saliency, greedy and beam-3 generation of 32 tokens');
  const saliencyMs = await call('timePairSaliency', text, text, RUNS);
  const greedy = await call('timeGenerate', text, 32, 1, RUNS);
  const beam = await call('timeGenerate', text, 32, 3, RUNS);
  const traceMs = median(rounds.map((r) => r.computeMs));
  t5 = { traceMs, transferMs: median(rounds.map((r) => r.transferMs)), floorMs: median(rounds.map((r) => r.floorMs)),
         ratio: median(rounds.map((r) => r.computeMs / r.floorMs)), saliencyMs, greedy, beam,
         peakBytes: Math.max(...rounds.map((r) => r.memoryBytes), greedy.memoryBytes, beam.memoryBytes),
         weightBytes: load.parameters * 4 };
}

// The app itself, which this benchmark page is not: reading a trace's message in the app copies
// its arrays into the app's wasm memory, part of the worker → UI transfer. The app reports that
// time (data-read-ms) beside the worker's (data-ms) on its trace line.
log('the app: reading each trace out of the worker\'s message');
const appReads = [];
for (const key of Object.keys(MODELS)) {
  const model = MODELS[key];
  for (const n of LENGTHS) {
    const texts = [model.text(n), model.text(n).replace(/^the/, 'a')];
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => log(`app page error: ${error.message}`));
    const folder = `bench-${model.folder.split('/').pop()}`;
    await page.goto(`${origin}/?model=folder:${folder}&text=${encodeURIComponent(texts[0])}`);
    // Every trace the app shows: the trace line's data-read-ms goes to -1 when a trace is asked
    // for and to the read time when it arrives (an observer, as two traces may read alike).
    await page.waitForFunction(() => {
      const span = document.querySelector('[data-testid=trace-time]');
      if (!span || span.dataset.readMs === '-1') return false;
      window.benchTraceReads = [Number(span.dataset.readMs)];
      new MutationObserver(() => {
        if (span.dataset.readMs !== '-1') window.benchTraceReads.push(Number(span.dataset.readMs));
      }).observe(span, { attributes: true, attributeFilter: ['data-read-ms'] });
      return true;
    }, null, { timeout: 300_000, polling: 50 });
    const runs = [];
    for (let run = 0; run < RUNS; run++) {
      await page.fill('[data-testid=text]', texts[(run + 1) % 2]);
      const handle = await page.waitForFunction((count) => window.benchTraceReads.length > count && [
        window.benchTraceReads.at(-1), Number(document.querySelector('[data-testid=trace-time]').dataset.ms),
      ], run + 1, { timeout: 300_000, polling: 50 });
      const [readMs, workerMs] = await handle.jsonValue();
      runs.push({ readMs, workerMs });
    }
    const tokens = await page.$$eval('[data-testid=token]', (chips) => chips.length);
    if (tokens !== n) throw new Error(`the app traced ${tokens} tokens of ${model.name}, wanted ${n}`);
    appReads.push({ key, n, readMs: median(runs.map((r) => r.readMs)), workerMs: median(runs.map((r) => r.workerMs)),
                    share: median(runs.map((r) => r.readMs / r.workerMs)) });
    await context.close();
  }
}

// The threaded build at 1 and 2 threads beside the single-threaded worker and onnxruntime-web
// at 1 and 2 threads, on a cross-origin-isolated copy of the site.
log('threads: GPT-2 small, the threaded build and onnxruntime-web at 1 and 2 threads');
const threads = await benchThreads({ browser, site, lengths: LENGTHS, runs: RUNS, log });

await close();

// The bundle.
const bundle = readdirSync(join(ROOT, 'dist')).filter((f) => f.endsWith('.wasm')).map((f) => {
  const bytes = readFileSync(join(ROOT, 'dist', f));
  return { file: f, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});

// The report.
const mb = (bytes) => (bytes / 1e6).toFixed(2);
const gflops = (f, t) => (f / 1e6 / t).toFixed(1);
const lines = [];
lines.push('# Benchmarks');
lines.push('');
lines.push(`Written by \`scripts/bench.sh\` on ${new Date().toISOString().slice(0, 10)}: headless Chromium ${browserVersion}, ` +
  `release build, the worker build the app starts in it (\`${WORKER}\`${WORKER === 'worker_relaxed' ? ': candle\'s matmul kernel on relaxed SIMD\'s fused multiply-add, vendor/README.md' : ''}), ` +
  `one thread (no COOP/COEP), median of ${RUNS} after one warm-up. Models: random weights of the real ` +
  'shapes (timing does not depend on the values). This machine: 2 vCPUs — numbers are noisy; compare within one run.');
lines.push('');
lines.push('**Floor** = the time of this forward pass\'s matmuls alone, each timed as a candle matmul in the app\'s worker, run by a second page in its own renderer process (see below) ' +
  '(the fastest of four: x·W with W [k,n], x·Wᵀ with W [n,k], (W·xᵀ)ᵀ, and x·Wᵀ as the engine\'s linear layers compute it — up to 64 rows (W·xᵀ)ᵀ split into four products over every fourth row of W), i.e. its FLOPs ÷ the browser\'s matmul rate at those shapes. Each shape is repeated for ~10 ms, so its weight is in cache; a forward pass reads each weight from memory once, which the floor does not count. ' +
  `**Cold floor** = the same sum with each weight's product timed cold: on the next of ${COLD_MB} MB of distinct copies of that weight (timed once, at the start, up to ${COLD_MAX_ROWS} rows; attention's per-head products, on activations, keep their floor time); ` +
  '**× cold floor** = the full trace\'s median ÷ the cold floor (minutes apart, so drift is not cancelled). The floor is timed ' +
  'right before every measured run (rounds alternate floor and run, after one warm-up run), and **× floor** is the median ' +
  'of the rounds\' run ÷ floor, so a machine that drifts over minutes moves both sides alike. ' +
  '**Full trace** = the forward pass recording every layer\'s Q, K, V, scores, weights, head outputs and outputs, and the logits where the model predicts (the last position for GPT-2, the [MASK] for DistilBERT), ' +
  'computed in the worker, and what the page receives first: every layer\'s attention weights (the overview draws them all), the embeddings, the hidden states, and the internals (Q, K, V, scores, head outputs, attention input and output) of the layer on screen; ' +
  'the worker keeps the other layers\' internals and sends one when it is selected (**layer switch** = that request\'s round trip, median of the layers 2, 3, … in turn). ' +
  '**Transfer** = the rest of the trace\'s round trip (encoding, postMessage, reading it in the page; ' +
  'this page is plain JavaScript — the app also copies the arrays into its own wasm memory: timed in the app itself, below). ' +
  '**Predictions** = one forward pass and the top-10 at one position. **Saliency** = forward + backward (gradient × input). ' +
  '**GFLOP/s** = the case\'s matmul FLOPs ÷ its time (saliency: the forward\'s and the backward\'s, which computes input gradients only — each weight\'s product once more, attention\'s per-head products twice).');
lines.push('');
lines.push('Every case (model × length) runs in fresh pages, each in its own renderer process: the measured page and the floor\'s ' +
  'page beside it (onnxruntime-web has a third), so this table is what a page that was just opened does. Until 2026-12-03 a ' +
  'process\'s history changed how fast gemm\'s kernel ran there: timing the floor\'s small matmuls (e.g. 32 × 64 × 32, all ' +
  'three orders) in the measured process made the engine\'s own matmuls ~2× slower from then on, and a long session of the ' +
  'app\'s own requests ~1.5× in some runs. The cause was gemm\'s 12-row kernel: V8 compiled its inner loop with SIMD values ' +
  'spilled to the machine stack, so its speed depended on where on the stack it ran. The vendored 8-row kernel has no stack ' +
  'access in its inner loop (vendor/README.md); since then `node scripts/bench-jit.mjs` measures 0.94–1.00 after ÷ before for ' +
  'the same triggers (two runs, 2026-12-03).');
lines.push('');
lines.push('| model | tokens | full trace ms | GFLOP/s | floor ms | × floor | cold floor ms | × cold floor | transfer ms | % of trace | layer switch ms | predictions ms | GFLOP/s | × floor | saliency ms | GFLOP/s | × predictions | ort, same head ms | ours ÷ ort | ort, all-positions logits ms | ours ÷ ort |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ort = (value) => (value === undefined ? '— | —' : `${ms(value.ms)} | ${value.ratio.toFixed(2)}`);
  const cold = r.traceColdFloorMs === null ? '— | —'
    : `${ms(r.traceColdFloorMs)} | ${(r.trace.computeMs / r.traceColdFloorMs).toFixed(2)}`;
  lines.push(`| ${r.key === 'gpt2' ? 'GPT-2 small' : 'DistilBERT-base'} | ${r.n} | ${ms(r.trace.computeMs)} | ` +
    `${gflops(r.traceFlops, r.trace.computeMs)} | ${ms(r.traceFloorMs)} | ${r.traceRatio.toFixed(2)} | ${cold} | ` +
    `${ms(r.trace.transferMs)} | ${(100 * r.trace.transferMs / r.trace.computeMs).toFixed(1)} % | ${ms(r.layerSwitchMs)} | ${ms(r.predictMs)} | ` +
    `${gflops(r.predictFlops, r.predictMs)} | ${r.predictRatio.toFixed(2)} | ${ms(r.saliencyMs)} | ` +
    `${gflops(r.saliencyFlops, r.saliencyMs)} | ${(r.saliencyMs / r.predictMs).toFixed(2)} | ` +
    `${ort(r.ort_next)} | ${ort(r.ort_all)} |`);
}
lines.push('');
const ortVersion = JSON.parse(readFileSync(join(ROOT, '.cache', 'bench-node', 'node_modules', 'onnxruntime-web', 'package.json'))).version;
lines.push(`onnxruntime-web ${ortVersion} ` +
  `(wasm backend, numThreads 1, SIMD) runs the same GPT-2 (same weights) exported by \`tools/make_bench_models.py\` ` +
  `(torch.onnx, opset 18), returning all 12 attention maps and logits: "same head" = the LM head at the last position only, ` +
  `as our trace does (the page shows no other position's logits); "all-positions logits" = the graph as transformers ` +
  `returns it. Session creation: ${ms(ortSessions.next.createMs)} / ${ms(ortSessions.all.createMs)} ms for the ` +
  `${mb(ortSessions.all.fileBytes)} MB file. "ours ÷ ort" is the median, over ${RUNS} rounds that alternate one ort run and one of our traces, of our trace's compute time ÷ its run.`);
lines.push('');
lines.push('Each case\'s onnxruntime rounds ran right after its floor rounds and saliency, onnxruntime in its own page and process, our trace in the same worker as before. Our trace in those rounds, beside its time in the floor\'s rounds:');
lines.push('');
lines.push('| tokens | trace ms, floor rounds | trace ms, ort "same head" rounds | ort "same head" ms | trace ms, ort "all-positions" rounds | ort "all-positions" ms |');
lines.push('|---:|---:|---:|---:|---:|---:|');
for (const r of rows.filter((row) => row.ort_next)) {
  lines.push(`| ${r.n} | ${ms(r.trace.computeMs)} | ${ms(r.ort_next.oursMs)} | ${ms(r.ort_next.ms)} | ${ms(r.ort_all.oursMs)} | ${ms(r.ort_all.ms)} |`);
}
lines.push('');
lines.push(...threadsSection(threads, RUNS, ortVersion));
lines.push('## Appending a token (GPT-2 small)');
lines.push('');
lines.push('A click on a candidate, a sampled token or "Generate" appends a token. A causal model\'s earlier tokens cannot see it, ' +
  'so the worker extends the trace before: only the new position runs through the blocks, reading the kept keys and values, ' +
  'and every recorded array is extended (`engine/append.rs`). **Extended** = that trace of n + 1 tokens; **from scratch** = ' +
  `the same n + 1 tokens traced again right after (the same ids are not extended). Worker compute ms, median of ${RUNS} rounds that alternate the two; ` +
  'round trip = compute + the message to the page.');
lines.push('');
lines.push('| context tokens | from scratch ms | extended ms | extended ÷ from scratch | goal | round trip from scratch ms | round trip extended ms |');
lines.push('|---:|---:|---:|---:|---:|---:|---:|');
const appendGoals = { 32: 0.5, 128: 0.15, 512: 0.05 };
for (const r of appends) {
  const goal = appendGoals[r.n] === undefined ? '—' : `≤ ${appendGoals[r.n]}`;
  lines.push(`| ${r.n} | ${ms(r.fullMs)} | ${ms(r.appendMs)} | ${r.ratio.toFixed(3)} | ${goal} | ${ms(r.fullRoundTripMs)} | ${ms(r.appendRoundTripMs)} |`);
}
lines.push('');
lines.push(`Generating 20 tokens after a 32-token prompt as the app's "Generate" does (a seeded draw from the traced logits, then ` +
  `a trace of the text with the token appended): ${ms(generation.ms)} ms in all, ${ms(generation.ms / 20)} ms per token; ` +
  `${generation.extended} of the 20 traces extended the one before.`);
lines.push('');
lines.push('## Ecco\'s views: NMF and rankings (GPT-2 small, 32 tokens)');
lines.push('');
lines.push('NMF = the worker\'s time to factorise all 12 layers\' neuron activations after the non-linearity (32 tokens × 36 864 neurons, negatives set to 0) into k factors, from the kept trace; rankings = every residual stream through the final norm and head at every position, with two watched words. Worker compute time, median of the runs.');
lines.push('');
lines.push('| NMF k = 2 ms | NMF k = 8 ms | NMF k = 18 ms | rankings ms |');
lines.push('|---:|---:|---:|---:|');
lines.push(`| ${ms(neuronViews.factors[2])} | ${ms(neuronViews.factors[8])} | ${ms(neuronViews.factors[18])} | ${ms(neuronViews.rankingsMs)} |`);
lines.push('');
if (t5) {
  lines.push('## t5-small (encoder–decoder, random weights)');
  lines.push('');
  lines.push('Trace = both stacks recording every layer\'s internals, the cross-attention and the logits at every target position, ' +
    '32 source and 32 target tokens (the decoder start token and 31); **× floor** as above, the floor being that trace\'s matmuls ' +
    '(the LM head at all 32 target positions). Generation: the encoder once, its keys and values for every decoder block once, then one ' +
    'decoder step per token and beam from the cached keys and values of the earlier ones. Saliency: forward and backward over both sides.');
  lines.push('');
  lines.push('| trace ms | floor ms | × floor | transfer ms | saliency ms | saliency ÷ trace | greedy, tokens written | ms | beam 3, tokens written | ms | peak wasm memory MB | ÷ f32 weight bytes |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  lines.push(`| ${ms(t5.traceMs)} | ${ms(t5.floorMs)} | ${t5.ratio.toFixed(2)} | ${ms(t5.transferMs)} | ${ms(t5.saliencyMs)} | ` +
    `${(t5.saliencyMs / t5.traceMs).toFixed(2)} | ${t5.greedy.written} | ${ms(t5.greedy.ms)} | ${t5.beam.written} | ${ms(t5.beam.ms)} | ` +
    `${mb(t5.peakBytes)} | ${(t5.peakBytes / t5.weightBytes).toFixed(2)} |`);
  lines.push('');
}
if (smollm2) {
  lines.push('## SmolLM2-135M-Instruct (Llama, real weights, Q4_1 GGUF dequantised to f32)');
  lines.push('');
  lines.push('| tokens | full trace ms | transfer ms | predictions ms | saliency ms | saliency ÷ predictions |');
  lines.push('|---:|---:|---:|---:|---:|---:|');
  lines.push(`| ${smollm2.n} | ${ms(smollm2.trace.computeMs)} | ${ms(smollm2.trace.transferMs)} | ${ms(smollm2.predictMs)} | ` +
    `${ms(smollm2.saliencyMs)} | ${(smollm2.saliencyMs / smollm2.predictMs).toFixed(2)} |`);
  lines.push('');
}
lines.push('## Loading (bytes already in the page → model ready in the worker)');
lines.push('');
lines.push('| model | file | file MB | parameters | weights in memory (f32) MB | load ms (worker) | load ms (page, incl. transfer) | peak wasm memory MB | ÷ f32 weight bytes |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const l of loads) {
  const weights = l.parameters * 4;
  lines.push(`| ${l.name} | ${l.file} | ${mb(l.fileBytes)} | ${l.parameters.toLocaleString('en')} | ${mb(weights)} | ${ms(l.loadMs)} | ` +
    `${ms(l.wallMs)} | ${mb(l.memoryBytes)} | ${(l.memoryBytes / weights).toFixed(2)} |`);
}
lines.push('');
lines.push('## The wasm bundle');
lines.push('');
// A browser downloads the app and one of the worker builds (crates/app/js/worker-choice.js picks it).
const workerBuild = (file) => file.match(/^(worker(?:_relaxed)?)_bg\.wasm$/)?.[1];
const downloaded = bundle.filter((b) => !workerBuild(b.file) || workerBuild(b.file) === WORKER);
lines.push(`A browser downloads the app and one worker build: here \`${WORKER}\` (the other is for browsers ${WORKER === 'worker' ? 'with' : 'without'} relaxed SIMD).`);
lines.push('');
lines.push('| file | raw MB | gzip -9 MB |');
lines.push('|---|---:|---:|');
for (const b of bundle) lines.push(`| ${b.file} | ${mb(b.raw)} | ${mb(b.gzip)} |`);
lines.push(`| **downloaded by this browser** (${downloaded.map((b) => b.file).join(' + ')}) | ${mb(downloaded.reduce((s, b) => s + b.raw, 0))} | ${mb(downloaded.reduce((s, b) => s + b.gzip, 0))} |`);
lines.push('');
lines.push('## The app reading a trace');
lines.push('');
lines.push(`The app (index.html, same worker build) in a fresh page per case, the text given in the URL, then ${RUNS} retraces alternating two texts of the same length: ` +
  'the worker\'s time for the trace, and the app\'s time to read the message (serde-wasm-bindgen copying the arrays into the app\'s wasm memory), which the benchmark page above, plain JavaScript, does not do. ' +
  '**Worker → UI** = that read plus the benchmark page\'s transfer (table above), ÷ the trace.');
lines.push('');
lines.push('| model | tokens | worker\'s trace ms | app reads the message ms | ÷ trace | transfer above | worker → UI, ÷ trace |');
lines.push('|---|---:|---:|---:|---:|---:|---:|');
for (const a of appReads) {
  const row = rows.find((r) => r.key === a.key && r.n === a.n);
  const transfer = row.trace.transferMs / row.trace.computeMs;
  lines.push(`| ${a.key === 'gpt2' ? 'GPT-2 small' : 'DistilBERT-base'} | ${a.n} | ${ms(a.workerMs)} | ${ms(a.readMs)} | ` +
    `${(100 * a.share).toFixed(1)} % | ${(100 * transfer).toFixed(1)} % | ${(100 * (a.share + transfer)).toFixed(1)} % |`);
}
lines.push('');
lines.push('## The worker\'s memory after tracing');
lines.push('');
lines.push('The worker\'s wasm memory after each case\'s trace rounds (the peak so far: wasm memory never shrinks), with the model loaded and the last trace\'s layers kept for layer requests.');
lines.push('');
lines.push('| model | tokens | wasm memory MB | ÷ f32 weight bytes |');
lines.push('|---|---:|---:|---:|');
for (const r of rows) {
  lines.push(`| ${r.key === 'gpt2' ? 'GPT-2 small' : 'DistilBERT-base'} | ${r.n} | ${mb(r.memoryBytes)} | ${(r.memoryBytes / r.weightBytes).toFixed(2)} |`);
}
lines.push('');
lines.push('## × floor of every round (full trace)');
lines.push('');
lines.push('| model | tokens | run ÷ floor, round by round |');
lines.push('|---|---:|---|');
for (const r of rows) {
  lines.push(`| ${r.key === 'gpt2' ? 'GPT-2 small' : 'DistilBERT-base'} | ${r.n} | ${r.traceRatios.map((x) => x.toFixed(2)).join(', ')} |`);
}
lines.push('');
lines.push('## The floor\'s matmuls (every shape, timed at the start after one warm-up pass)');
lines.push('');
lines.push(`Cold: the same four orders, each product on the next of ${COLD_MB} MB of distinct copies of the weight (median of 3), as a forward pass reads its weights.`);
lines.push('');
lines.push('| m × k × n | x·W, W [k,n] ms | x·Wᵀ, W [n,k] ms | (W·xᵀ)ᵀ, W [n,k] ms | engine\'s x·Wᵀ ms | best GFLOP/s | cold: x·W ms | cold: x·Wᵀ ms | cold: (W·xᵀ)ᵀ ms | cold: engine\'s ms | best cold ÷ best |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const shape of allShapes) {
  const t = shapeTimes.get(shape.join('x'));
  const c = coldTimes.get(shape.join('x'));
  const f = 2 * shape[0] * shape[1] * shape[2];
  const best = fastest(t);
  const cold = c ? `${c.kn.toFixed(3)} | ${c.nk.toFixed(3)} | ${c.wf.toFixed(3)} | ${c.en.toFixed(3)} | ${(fastest(c) / best).toFixed(2)}` : '— | — | — | — | —';
  lines.push(`| ${shape.join(' × ')} | ${t.kn.toFixed(3)} | ${t.nk.toFixed(3)} | ${t.wf.toFixed(3)} | ${t.en.toFixed(3)} | ${gflops(f, best)} | ${cold} |`);
}
const report = lines.join('\n') + '\n';
writeFileSync(resolve(ROOT, OUT), report);
console.log(report);
