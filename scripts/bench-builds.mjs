// Two builds of the threaded worker side by side (a benchmark: prints a table, asserts nothing):
// this dist/ ("new") against an older built site ("old", e.g. a copy of dist/ made before a
// change), each on 1 and 2 threads, four workers in one cross-origin-isolated page, requests
// alternating among them (the order reversed every round), so that a machine that drifts weighs
// on both builds alike.
//   node scripts/bench-builds.mjs --old DIR [--model DIR] [--lengths 32,128,512] [--runs 7]
//                                 [--kinds trace,saliency] [--two-at-once]
// --model: a model folder (config.json, tokenizer.json, model.safetensors), by default
// .cache/gpt2-shaped (GPT-2 small's shape, random weights: scripts/soak.sh makes it).
// --two-at-once: also times two 1-thread traces at once against one alone; 2 ÷ that slowdown is
// the speed-up of 2 threads if a trace's halves slowed down as much (a reference, not a bound:
// the halves share the weights). bench-threads.mjs reports the same for BENCHMARKS.md.
// Run it alone: this machine has 2 cores.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ISOLATION_HEADERS } from './static-server.mjs';
import { MODELS, median, ms } from './bench-shapes.mjs';
import { start } from '../tests/e2e/support.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const { values } = parseArgs({ options: {
  old: { type: 'string' },
  model: { type: 'string', default: join(ROOT, '.cache', 'gpt2-shaped') },
  lengths: { type: 'string', default: '32,128,512' },
  runs: { type: 'string', default: '7' },
  kinds: { type: 'string', default: 'trace,saliency' },
  'two-at-once': { type: 'boolean', default: false },
} });
if (!values.old) {
  console.error('bench-builds: --old DIR is the older built site to compare dist/ with');
  process.exit(2);
}

/** A site of dist/ (new), the old site under old/ and the model under model/. */
function makeSite() {
  const site = mkdtempSync(join(tmpdir(), 'bench-builds-'));
  const dist = join(ROOT, 'dist');
  for (const entry of readdirSync(dist).filter((entry) => entry !== 'models')) {
    symlinkSync(join(dist, entry), join(site, entry));
  }
  symlinkSync(resolve(values.old), join(site, 'old'));
  mkdirSync(join(site, 'models'));
  symlinkSync(resolve(values.model), join(site, 'models', 'model'));
  return site;
}

/** In the page: loads the model in the four workers and times every kind on every text;
 *  resolves to rows of {n, kind, times: {worker: [ms, …]}, uncut: {worker: [ms, …]}}: the
 *  requests' times, and the part of each that was not cut among the threads. */
async function timeInPage({ texts, runs, kinds, twoAtOnce }) {
  const { AppWorker } = await import('./measure-workers.js');
  const workers = {};
  for (const [build, base] of [['new', './'], ['old', 'old/']]) {
    for (const threads of [1, 2]) {
      const worker = await AppWorker.start(`threads:${threads}`, new URL(base, location.href));
      await worker.load(new URL('models/model/', location.href));
      workers[`${build} ${threads}`] = worker;
    }
  }
  const requests = {
    trace: (text) => ({ kind: 'trace', text, layer: 0 }),
    saliency: (text) => ({ kind: 'saliency', text, position: null, target: null }),
  };
  // The request's ms, and the part of it that ran on the worker's thread alone (not cut).
  const computeMs = async (worker, kind, text) => {
    const { data } = await worker.ask(requests[kind](text));
    if (data.kind === 'error') throw new Error(JSON.stringify(data).slice(0, 300));
    return [data.compute_ms, data.compute_ms - data.cut_ms];
  };
  // How much a trace slows down beside another: both builds' 1-thread workers tracing alone, in
  // turn, and the two at once (each on a core of its own, sharing nothing but the machine).
  const alongside = async (text) => {
    const pair = [workers['new 1'], workers['old 1']];
    const times = { alone: [], together: [] };
    for (let round = 0; round <= runs; round++) {
      const alone = [];
      for (const worker of pair) alone.push((await computeMs(worker, 'trace', text))[0]);
      const together = await Promise.all(pair.map((w) => computeMs(w, 'trace', text)));
      if (round === 0) continue;
      times.alone.push(...alone);
      times.together.push(...together.map(([time]) => time));
    }
    return times;
  };
  const rows = [];
  for (const [n, text] of texts) {
    // V8 optimises a worker's hot functions only after they ran: two traces of another text.
    for (const worker of Object.values(workers)) {
      for (let i = 0; i < 2; i++) await computeMs(worker, 'trace', text.replace(/^the/, 'a'));
    }
    for (const kind of kinds) {
      const times = Object.fromEntries(Object.keys(workers).map((key) => [key, []]));
      const uncut = Object.fromEntries(Object.keys(workers).map((key) => [key, []]));
      for (let round = 0; round <= runs; round++) {
        const keys = Object.keys(workers);
        for (const key of round % 2 ? keys.reverse() : keys) {
          const [time, alone] = await computeMs(workers[key], kind, text);
          if (round > 0) { // round 0 warms this kind up
            times[key].push(time);
            uncut[key].push(alone);
          }
        }
      }
      rows.push({ n, kind, times, uncut });
    }
    if (twoAtOnce) rows.push({ n, kind: 'two at once', times: await alongside(text) });
  }
  return rows;
}

const site = makeSite();
const env = await start(site, ISOLATION_HEADERS);
try {
  const page = await env.browser.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${env.origin}/measure.html`);
  const rows = await page.evaluate(timeInPage, {
    texts: values.lengths.split(',').map(Number).map((n) => [n, MODELS.gpt2.text(n)]),
    runs: Number(values.runs),
    kinds: values.kinds.split(','),
    twoAtOnce: values['two-at-once'],
  });
  console.log('| tokens | case | old 1 t ms | new 1 t ms | old 2 t ms | new 2 t ms | new ÷ old, 2 t | speed-up, old | speed-up, new | not cut, old 2 t ms | not cut, new 2 t ms |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const medians = (times) => Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)]));
  for (const { n, kind, times, uncut } of rows.filter((row) => row.kind !== 'two at once')) {
    const [row, alone] = [medians(times), medians(uncut)];
    console.log(`| ${n} | ${kind} | ${ms(row['old 1'])} | ${ms(row['new 1'])} | ${ms(row['old 2'])} | ` +
      `${ms(row['new 2'])} | ${(row['new 2'] / row['old 2']).toFixed(2)} | ` +
      `${(row['old 1'] / row['old 2']).toFixed(2)} | ${(row['new 1'] / row['new 2']).toFixed(2)} | ` +
      `${ms(alone['old 2'])} | ${ms(alone['new 2'])} |`);
  }
  if (values['two-at-once']) {
    console.log('\n| tokens | 1-thread trace alone ms | two at once ms | two at once ÷ alone | 2 ÷ slowdown |');
    console.log('|---:|---:|---:|---:|---:|');
    for (const { n, times } of rows.filter((row) => row.kind === 'two at once')) {
      const slower = median(times.together) / median(times.alone);
      console.log(`| ${n} | ${ms(median(times.alone))} | ${ms(median(times.together))} | ` +
        `${slower.toFixed(2)} | ${(2 / slower).toFixed(2)}× |`);
    }
  }
} finally {
  await env.close();
  rmSync(site, { recursive: true, force: true });
}
