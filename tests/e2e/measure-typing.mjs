// How fast the page answers typing with a 12-layer model (a benchmark, not a test): from the
// input event to the new token chips on screen, and to the heatmap redrawn for them. Each build
// is measured in turn, alternating, and the medians printed as a table.
// Usage: node tests/e2e/measure-typing.mjs MODEL_DIR DIST [DIST …] [--rounds N]
//   MODEL_DIR holds GPT-2 small's config.json, tokenizer.json and model.safetensors
//   (scripts/bench.sh puts one in bench-models/gpt2-small); it is served as models/typing-model/.
import { mkdirSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openPage, start } from './support.mjs';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 7;
const [modelDir, ...dists] = args;
if (!modelDir || dists.length === 0) {
  console.error('usage: node tests/e2e/measure-typing.mjs MODEL_DIR DIST [DIST …] [--rounds N]');
  process.exit(2);
}
const TEXTS = ['The cat sat on the mat because it was', 'The cat sat on the mat because it was tired'];

/** One typing change in the page: ms to the chips, ms to the heatmap. */
const typeOnce = (page, text) => page.evaluate(async (text) => {
  const box = document.querySelector('[data-testid=text]');
  const before = document.querySelectorAll('[data-testid=token]').length;
  const started = performance.now();
  box.value = text;
  box.dispatchEvent(new Event('input', { bubbles: true }));
  let tokensAt = null;
  for (;;) {
    await new Promise((ready) => requestAnimationFrame(ready));
    const chips = document.querySelectorAll('[data-testid=token]').length;
    if (tokensAt === null && chips !== before && chips > 0) tokensAt = performance.now() - started;
    const plotted = (document.querySelector('[data-testid=heatmap]')?.dataset.positions ?? '').split(',').length;
    if (tokensAt !== null && plotted === chips) return [tokensAt, performance.now() - started];
    if (performance.now() - started > 60_000) throw new Error('no heatmap after 60 s');
  }
}, text);

const sites = [];
for (const dist of dists) {
  const link = resolve(dist, 'models/typing-model');
  if (existsSync(link)) rmSync(link, { recursive: true });
  mkdirSync(resolve(dist, 'models'), { recursive: true });
  symlinkSync(resolve(modelDir), link);
  const site = await start(dist);
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page } = await openPage(context, site.origin, '?model=folder:typing-model&panel=heatmaps');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 300_000 });
  await page.waitForSelector('[data-testid=heatmap][data-positions]', { timeout: 60_000 });
  sites.push({ dist, site, page, link, times: [] });
}
for (let round = 0; round < rounds + 1; round++) {
  for (const entry of sites) {
    const times = await typeOnce(entry.page, TEXTS[round % 2]);
    if (round > 0) entry.times.push(times); // the first round warms up
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`| build | keystroke → tokens on screen (ms) | keystroke → heatmap drawn (ms) | rounds |\n|---|---:|---:|---:|`);
for (const { dist, times } of sites) {
  console.log(`| ${dist} | ${median(times.map((t) => t[0])).toFixed(0)} | ${median(times.map((t) => t[1])).toFixed(0)} | ${times.length} |`);
}
for (const { site, link } of sites) { await site.close(); rmSync(link); }
