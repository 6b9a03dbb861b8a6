// What the relaxed-SIMD worker build buys (a benchmark: prints a table, asserts nothing): the
// same GPT-2 small trace in the two worker builds (`worker`: gemm's simd128 kernel, a multiply
// and an add; `worker_relaxed`: the same kernel on f32x4.relaxed_madd, vendor/README.md), each
// in its own renderer process (two sites), in alternation. Halfway through, the builds swap
// processes, so a process that runs slow (scripts/bench-jit.mjs) weighs on both alike.
//   node scripts/bench-kernels.mjs [--lengths 32,128] [--runs 10]
// Needs what scripts/bench.sh prepares (dist/, bench-models/gpt2-small); run it alone (2 cores).
import { resolve } from 'node:path';
import { start } from '../tests/e2e/support.mjs';
import { makeBenchSite } from './bench-site.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const LENGTHS = option('lengths', '32,128').split(',').map(Number);
const RUNS = Number(option('runs', '10'));
const BUILDS = ['worker', 'worker_relaxed'];
const text = (n) => 'the' + ' the'.repeat(n - 1);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const log = (...parts) => console.error(new Date().toISOString().slice(11, 19), ...parts);

const site = makeBenchSite(resolve(new URL('..', import.meta.url).pathname));
const { origin, browser, close } = await start(site);
const pages = [];
for (const host of ['127.0.0.1', 'localhost']) {
  const page = await browser.newPage();
  page.on('pageerror', (error) => log(`${host} page error:`, error.message));
  await page.goto(`${origin.replace('127.0.0.1', host)}/bench.html`);
  pages.push(page);
}
const appBuild = await pages[0].evaluate(() => window.bench.workerName());
if (appBuild !== 'worker_relaxed') throw new Error(`this browser has no relaxed SIMD (the app would start ${appBuild})`);

const times = Object.fromEntries(BUILDS.map((b) => [b, Object.fromEntries(LENGTHS.map((n) => [n, []]))]));
const ratios = Object.fromEntries(LENGTHS.map((n) => [n, []]));
for (const swap of [0, 1]) {
  const builds = swap ? [...BUILDS].reverse() : BUILDS;
  for (const [i, page] of pages.entries()) {
    log(`${['127.0.0.1', 'localhost'][i]}: ${builds[i]}, loading GPT-2 small`);
    await page.evaluate((name) => window.bench.startWorker(name), builds[i]);
    await page.evaluate(() => window.bench.loadModel('bench-models/gpt2-small'));
  }
  const trace = (i, n) => pages[i].evaluate((t) => window.bench.traceOnce(t), text(n)).then((r) => r.computeMs);
  for (const n of LENGTHS) {
    await trace(0, n);
    await trace(1, n);
    for (let round = 0; round < Math.ceil(RUNS / 2); round++) {
      const ms = [await trace(0, n), await trace(1, n)];
      ms.forEach((t, i) => times[builds[i]][n].push(t));
      ratios[n].push(ms[builds.indexOf('worker_relaxed')] / ms[builds.indexOf('worker')]);
    }
    log(`${n} tokens done (${builds.join(' | ')})`);
  }
}
const version = browser.version();
await close();
console.log(`GPT-2 small (random weights), full trace in the worker, ms: median of ${2 * Math.ceil(RUNS / 2)} ` +
            `rounds (half with the builds' processes swapped), Chromium ${version}\n`);
console.log('| tokens | worker (simd128) | worker_relaxed (fused multiply-add) | relaxed ÷ plain, median of the rounds | rounds below 1 |');
console.log('|---:|---:|---:|---:|---:|');
for (const n of LENGTHS) {
  const below = ratios[n].filter((r) => r < 1).length;
  console.log(`| ${n} | ${median(times.worker[n]).toFixed(0)} | ${median(times.worker_relaxed[n]).toFixed(0)} | ` +
              `${median(ratios[n]).toFixed(2)} | ${below} of ${ratios[n].length} |`);
}
