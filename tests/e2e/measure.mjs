// Measures the release site in Chromium and prints a table (a benchmark, not a test):
// wasm sizes (raw, gzip), page open → "model ready" for MiniLM (first and cached visit),
// the worker's wasm memory after loading MiniLM, and tracing 16 tokens on MiniLM.
// Usage (after scripts/test.sh or trunk build --release): node tests/e2e/measure.mjs
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { openPage, start } from './support.mjs';

const site = await start();
const rows = [];
for (const file of readdirSync('dist').filter((f) => f.endsWith('.wasm'))) {
  const bytes = readFileSync(`dist/${file}`);
  rows.push([`${file} raw / gzip`, `${(bytes.length / 1e6).toFixed(2)} MB / ${(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(2)} MB`]);
}
const context = await site.browser.newContext();
const url = '?model=folder:all-MiniLM-L6-v2';
let t0 = Date.now();
const { page } = await openPage(context, site.origin, url);
await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
rows.push(['MiniLM: page open → model ready, first visit (download)', `${Date.now() - t0} ms`]);
t0 = Date.now();
await page.goto(`${site.origin}/${url}`);
await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
rows.push(['MiniLM: page open → model ready, second visit (Cache Storage)', `${Date.now() - t0} ms`]);
const memory = Number(await page.getAttribute('[data-testid=worker-memory]', 'data-bytes'));
rows.push(['MiniLM: worker wasm memory after loading (weights file 90.9 MB)', `${(memory / 1e6).toFixed(0)} MB`]);
const sentence = 'the quick brown fox jumps over the lazy dog and then it sleeps now'; // 14 words + [CLS], [SEP]
const times = [];
for (let run = 0; run < 6; run++) {
  const text = run % 2 ? sentence : sentence.replace('fox', 'cat');
  const start = Date.now();
  await page.fill('[data-testid=text]', text);
  await page.waitForFunction((t) => {
    const chips = [...document.querySelectorAll('[data-testid=token]')].map((c) => c.textContent);
    return chips.length === 16 && chips.includes(t.includes('fox') ? 'fox' : 'cat') && !document.querySelector('.busy');
  }, text);
  const worker = Number(await page.getAttribute('[data-testid=trace-time]', 'data-ms'));
  if (run > 0) times.push([worker, Date.now() - start]);
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
rows.push(['MiniLM: trace of 16 tokens in the worker (median of 5)', `${median(times.map((t) => t[0])).toFixed(0)} ms`]);
rows.push(['MiniLM: typing → tokens and trace on screen (median of 5)', `${median(times.map((t) => t[1]))} ms`]);
console.log('| measurement | value |\n|---|---|');
for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
await site.close();
