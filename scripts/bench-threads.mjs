// The threads benchmark: GPT-2 small in the worker the app starts without cross-origin
// isolation, in the threaded build at 1 and 2 threads, and onnxruntime-web at 1 and 2 threads,
// on a cross-origin-isolated copy of the benchmark's site. scripts/bench.mjs runs it and adds
// its section to BENCHMARKS.md; on its own it prints the section:
//
//   node scripts/bench-threads.mjs [--lengths 8,32,128,512] [--runs 5]
//
// Needs what scripts/bench.mjs needs (scripts/bench.sh makes it), and dist/threads.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ISOLATION_HEADERS, serve } from './static-server.mjs';
import { start } from '../tests/e2e/support.mjs';
import { makeBenchSite, openBenchPage } from './bench-site.mjs';
import { MODELS, floorMs, forwardMatmuls, median, ms } from './bench-shapes.mjs';

/** The workers compared, by key: the plain build (the one the app starts where the page is not
 *  isolated) and the threaded build at 1 and 2 threads. */
const WORKERS = [['plain', null], ['t1', 'threads:1'], ['t2', 'threads:2']];
/** More threads than this machine's cores, at one length: what the pool-size rule avoids. */
const OVERSUBSCRIBED = 4;
const OVERSUBSCRIBED_TOKENS = 128;

/** Runs the comparison in `browser` on `site` (a folder as makeBenchSite makes it), served
 *  with COOP/COEP. Resolves to {rows, oversubscribed, cores}: per length the median ms of each
 *  worker and of onnxruntime-web for trace, predictions and saliency, and the floor. */
export async function benchThreads({ browser, site, lengths, runs, log }) {
  const server = await serve(site, 0, ISOLATION_HEADERS);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const model = MODELS.gpt2;
  const rows = [];
  let oversubscribed = null;
  let cores = null;
  try {
    cores = await coresOf(browser, origin, log);
    for (const n of lengths) {
      log(`threads, gpt2 ${n} tokens: fresh pages, loading the model in three workers`);
      const pages = await openPages(browser, origin, log);
      try {
        const extra = n === OVERSUBSCRIBED_TOKENS ? [[`t${OVERSUBSCRIBED}`, `threads:${OVERSUBSCRIBED}`]] : [];
        for (const [key, name] of [...WORKERS, ...extra]) {
          await pages.ours.call('startWorker', name ?? await pages.ours.call('workerName'), key);
          await pages.ours.call('loadModel', model.folder);
        }
        const text = model.text(n);
        // Two traces of another text first in every worker: V8 compiles the hot wasm functions
        // optimised only after they ran (the first predictions of a fresh worker were 1.5×
        // slower), and the predictions measured next must not be answered from a trace's logits.
        for (const [key] of [...WORKERS, ...extra]) {
          await pages.ours.call('useWorker', key);
          for (let i = 0; i < 2; i++) await pages.ours.call('traceOnce', text.replace(/^the/, 'a'));
        }
        const ids = await pages.ours.call('tokenIds', text);
        if (ids.length !== n) throw new Error(`gpt2: ${ids.length} tokens, wanted ${n}`);
        const row = { n };
        for (const kind of ['predictions', 'trace', 'saliency']) {
          log(`threads, gpt2 ${n} tokens: ${kind}, ${runs} rounds`);
          row[kind] = await rounds(pages, kind, text, ids, runs, model, n, extra);
        }
        rows.push(row);
        if (extra.length) oversubscribed = { n, threads: OVERSUBSCRIBED, ...row.trace };
      } finally {
        await pages.close();
      }
    }
  } finally {
    server.close();
  }
  return { rows, oversubscribed, cores };
}

/** The pages of one case, each in its own process: ours (the workers), the floor's, and
 *  onnxruntime-web at 1, 2 and OVERSUBSCRIBED threads (a page fixes its count once). */
async function openPages(browser, origin, log) {
  const pages = {};
  for (const label of ['ours', 'floor', 'ort1', 'ort2', `ort${OVERSUBSCRIBED}`]) {
    pages[label] = await openBenchPage(browser, origin, label, log);
  }
  if (!(await pages.ours.call('isolated'))) throw new Error('the threads benchmark page is not cross-origin isolated');
  await pages.floor.call('startWorker');
  pages.close = () => Promise.all(Object.values(pages).filter((p) => p.close).map((p) => p.close()));
  return pages;
}

/** What the browser reports as its cores. */
async function coresOf(browser, origin, log) {
  const page = await openBenchPage(browser, origin, 'cores', log);
  const cores = await page.call('cores');
  await page.close();
  return cores;
}

/** One warm-up and `runs` rounds of `kind` for every worker in turn (and, for a trace, the
 *  floor before and onnxruntime-web after, at each of its thread counts). Resolves to the
 *  medians by key (ms), the fork-joins of the 2-thread run, and each round's t1 ÷ t2. */
async function rounds(pages, kind, text, ids, runs, model, n, extra) {
  const once = { trace: 'traceOnce', predictions: 'predictOnce', saliency: 'saliencyOnce' }[kind];
  const list = forwardMatmuls(model, n, 1);
  const all = [];
  for (let i = 0; i <= runs; i++) {
    const round = {};
    if (kind !== 'saliency') round.floor = await floorMs(pages.floor.call, list);
    for (const [key] of [...WORKERS, ...extra]) {
      await pages.ours.call('useWorker', key);
      const result = await pages.ours.call(once, text);
      round[key] = result.computeMs;
      round[`${key}Regions`] = result.regions;
      round[`${key}Cut`] = result.cutMs;
      round[`${key}Blocks`] = result.blockMs;
    }
    if (kind === 'trace') {
      // What sharing the machine costs: the two single-threaded workers' traces at once.
      round.together = Math.max(...await pages.ours.call('traceTogether', ['plain', 't1'], text));
      for (const threads of [1, 2, ...(extra.length ? [OVERSUBSCRIBED] : [])]) {
        const ort = pages[`ort${threads}`];
        if (i === 0) await ort.call('ortCreate', model.onnxNext, threads);
        round[`ort${threads}`] = await ort.call('ortOnce', ids);
      }
    }
    if (i > 0) all.push(round);
  }
  const result = { speedups: all.map((r) => r.t1 / r.t2), slowdownSpeedups: all.map((r) => (r.plain + r.t1) / r.together) };
  for (const key of Object.keys(all[0])) result[key] = median(all.map((r) => r[key]));
  return result;
}


/** The Markdown section for `result` (what benchThreads resolves to). */
export function threadsSection({ rows, oversubscribed, cores }, runs, ortVersion) {
  const lines = [];
  lines.push('## Threads (GPT-2 small, cross-origin isolated)');
  lines.push('');
  lines.push(`The same page served with COOP and COEP (\`crossOriginIsolated\`), ${cores} cores reported. ` +
    '**plain** = the worker build the app starts where the page is not isolated; **1 t**, **2 t** = the threaded build ' +
    '(`worker_threads_relaxed` where relaxed SIMD validates, else `worker_threads`) on a pool of 1 and 2 threads; each has GPT-2 small loaded in a worker of its own, in one page. ' +
    `onnxruntime-web ${ortVersion} (wasm, SIMD, the LM head at the last position as in our trace) at 1 and 2 threads, ` +
    'each in a page of its own. Worker compute ms (onnxruntime: its run), median of ' +
    `${runs} rounds after one warm-up; a round runs every column once, in turn. ` +
    '**speed-up** = 1 t ÷ 2 t (median of the rounds\' ratios); **efficiency** = 1 t ÷ (2 · 2 t); ' +
    '**× floor** = time ÷ the trace\'s matmuls timed alone on one thread (the floor, timed in the round); at 2 threads ' +
    'the floor is half that: the matmuls perfectly split. **fork-joins** = how often the 2-thread request cut its work among its threads (products, attention\'s heads, activations; in saliency also the backwards of attention, norms and activations).');
  lines.push('');
  lines.push('| tokens | case | plain ms | 1 t ms | 2 t ms | 1 t ÷ plain | speed-up | goal | efficiency | × floor, 1 t | × floor, 2 t | ort 1 t ms | ort 2 t ms | ort speed-up | ours 2 t ÷ ort 2 t | fork-joins |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    for (const kind of ['trace', 'predictions', 'saliency']) {
      const r = row[kind];
      const speedup = median(r.speedups);
      const floor = (t, threads) => (r.floor === undefined ? '—' : (t / (r.floor / threads)).toFixed(2));
      const ort = kind === 'trace'
        ? `${ms(r.ort1)} | ${ms(r.ort2)} | ${(r.ort1 / r.ort2).toFixed(2)} | ${(r.t2 / r.ort2).toFixed(2)}`
        : '— | — | — | —';
      lines.push(`| ${row.n} | ${kind} | ${ms(r.plain)} | ${ms(r.t1)} | ${ms(r.t2)} | ${(r.t1 / r.plain).toFixed(2)} | ` +
        `${speedup.toFixed(2)} | ${row.n >= 32 ? '≥ 1.8' : '—'} | ${(speedup / 2).toFixed(2)} | ${floor(r.t1, 1)} | ` +
        `${floor(r.t2, 2)} | ${ort} | ${r.t2Regions} |`);
    }
  }
  lines.push('');
  lines.push('**Where a trace\'s time goes**, measured in the worker: **cut** = ms in the work the engine cuts into blocks ' +
    '(products, attention\'s heads, activations), timed around each cut on the worker\'s thread; **one thread** = the rest ' +
    '(layer norms, residual sums, copying the trace out), which runs on the worker\'s thread alone; **blocks** = the ' +
    'blocks\' ms summed over the threads that computed them. **contention** = blocks at 2 t ÷ cut at 1 t: the same work ' +
    'took that much longer with the other core busy. Medians of the same rounds.');
  lines.push('');
  lines.push('| tokens | 1 t ms | one thread, 1 t | cut, 1 t | 2 t ms | one thread, 2 t | cut, 2 t | blocks, 2 t | ' +
    'cut, 2 t ÷ (blocks ÷ 2) | contention |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const r = row.trace;
    lines.push(`| ${row.n} | ${ms(r.t1)} | ${ms(r.t1 - r.t1Cut)} | ${ms(r.t1Cut)} | ${ms(r.t2)} | ${ms(r.t2 - r.t2Cut)} | ` +
      `${ms(r.t2Cut)} | ${ms(r.t2Blocks)} | ${(r.t2Cut / (r.t2Blocks / 2)).toFixed(2)} | ${(r.t2Blocks / r.t1Cut).toFixed(2)} |`);
  }
  lines.push('');
  lines.push('**Two at once:** the plain and the 1-thread worker asked for the same trace at the same time, each on ' +
    'a core of its own (the slower one\'s ms), against **alone**: their mean when each traced alone in the same round. ' +
    '**2 ÷ slowdown** = 2 · alone ÷ two at once (median of the rounds\' ratios): the speed-up of 2 threads if each half ' +
    'of a trace slowed down as much as a whole trace does beside another. Two traces read every weight twice, the halves ' +
    'of one trace once, so the halves can slow down less: a reference for this machine, not a bound.');
  lines.push('');
  lines.push('| tokens | alone ms | two at once ms | 2 ÷ slowdown | ours: speed-up | ort speed-up |');
  lines.push('|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const r = row.trace;
    lines.push(`| ${row.n} | ${ms((r.plain + r.t1) / 2)} | ${ms(r.together)} | ${median(r.slowdownSpeedups).toFixed(2)}× | ` +
      `${median(r.speedups).toFixed(2)}× | ${(r.ort1 / r.ort2).toFixed(2)}× |`);
  }
  lines.push('');
  lines.push('**Projection, not a measurement:** from each trace\'s 1 t and 2 t times, the share of its time that did not ' +
    'split, s = 2 · t₂ ÷ t₁ − 1 (Amdahl\'s law), gives t₄ = t₁ · (s + (1 − s) ÷ 4) and t₈ likewise. It assumes cores as fast as ' +
    'these and memory that keeps up; a laptop\'s cores slow down when all of them run.');
  lines.push('');
  lines.push('| tokens | serial share s | 1 t ms | 2 t ms (measured) | 4 cores ms (projected) | 8 cores ms (projected) |');
  lines.push('|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const { t1, t2 } = row.trace;
    const s = Math.min(1, Math.max(0, (2 * t2) / t1 - 1));
    const at = (p) => t1 * (s + (1 - s) / p);
    lines.push(`| ${row.n} | ${s.toFixed(2)} | ${ms(t1)} | ${ms(t2)} | ${ms(at(4))} | ${ms(at(8))} |`);
  }
  if (oversubscribed) {
    const o = oversubscribed;
    lines.push('');
    lines.push(`**More threads than cores** (${o.n} tokens, trace): ours at ${o.threads} threads ${ms(o[`t${o.threads}`])} ms ` +
      `against ${ms(o.t2)} ms at 2; onnxruntime-web at ${o.threads} threads ${ms(o[`ort${o.threads}`])} ms against ${ms(o.ort2)} ms at 2. ` +
      'The page starts as many threads as `navigator.hardwareConcurrency` reports, at most 4 ' +
      '(crates/app/js/worker-choice.js): onnxruntime-web slows down with more threads than cores.');
  }
  lines.push('');
  return lines;
}

// On its own: the section for the default lengths, printed.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
  const lengths = option('lengths', '8,32,128,512').split(',').map(Number);
  const runs = Number(option('runs', '5'));
  const root = resolve(new URL('..', import.meta.url).pathname);
  const log = (...parts) => console.error(new Date().toISOString().slice(11, 19), ...parts);
  const site = makeBenchSite(root);
  const { browser, close } = await start(site);
  try {
    const result = await benchThreads({ browser, site, lengths, runs, log });
    const ort = JSON.parse(readFileSync(join(root, '.cache/bench-node/node_modules/onnxruntime-web/package.json')));
    console.log(threadsSection(result, runs, ort.version).join('\n'));
  } finally {
    await close();
  }
}
