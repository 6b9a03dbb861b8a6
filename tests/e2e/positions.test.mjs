// The positional-encoding panel shows real numbers: the sinusoidal heatmap equals the formula,
// the learned heatmap equals the model's position embeddings (the trace CLI's
// `position_embeddings`), the similarity maps are the cosine similarities, the sliders and the
// dimension list redraw, and token + position = input shows the query token's vectors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { hoverMatrix, openPage, start, traceCli, waitShape } from './support.mjs';

const TOLERANCE = 1e-4;
const TEXT = 'The cat sat on the mat.';
let site, cli;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  cli = traceCli('gpt2', TEXT);
  site = await start();
});

after(async () => site?.close());

const sinusoid = (pos, i, d) => {
  const angle = pos / 10000 ** ((2 * Math.floor(i / 2)) / d);
  return i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
};
const cosine = (a, b) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return dot / (norm(a) * norm(b));
};

test('sinusoidal and learned encodings, their similarities and token + position match the formula and the model', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.fill('[data-testid=text]', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);
  await page.click('[data-testid=tab-positions]');
  const d = cli.position_embeddings[0].length;
  await waitShape(page, 'pe-sinusoidal', `64 ${d}`);

  for (const [pos, i] of [[0, 0], [5, 3], [63, d - 1], [40, 10]]) {
    const shown = await hoverMatrix(page, 'pe-sinusoidal', pos, i);
    assert.ok(Math.abs(shown - sinusoid(pos, i, d)) <= TOLERANCE, `PE(${pos}, ${i}): shown ${shown}, formula ${sinusoid(pos, i, d)}`);
  }
  await waitShape(page, 'pe-learned', `64 ${d}`);
  for (const [pos, i] of [[0, 0], [3, 7], [cli.input_ids.length - 1, d - 1]]) {
    const shown = await hoverMatrix(page, 'pe-learned', pos, i);
    assert.ok(Math.abs(shown - cli.position_embeddings[pos][i]) <= TOLERANCE, `learned (${pos}, ${i}): shown ${shown}, weights ${cli.position_embeddings[pos][i]}`);
  }
  const learned = await hoverMatrix(page, 'pe-learned-similarity', 1, 4);
  assert.ok(Math.abs(learned - cosine(cli.position_embeddings[1], cli.position_embeddings[4])) <= TOLERANCE, 'learned similarity');
  const row = (pos) => [...Array(d).keys()].map((i) => sinusoid(pos, i, d));
  const sinusoidal = await hoverMatrix(page, 'pe-sinusoidal-similarity', 2, 9);
  assert.ok(Math.abs(sinusoidal - cosine(row(2), row(9))) <= TOLERANCE, 'sinusoidal similarity');

  // Token + position = input, for the pinned token.
  await page.click('[data-testid=token][data-index="3"]');
  await page.waitForSelector('[data-testid=token-plus-position][data-token="3"]');
  const position = await page.$$eval('[data-testid=token-plus-position] .vector[data-kind=position-embedding] .cell', (cells) => cells.map((c) => Number(c.dataset.value)));
  position.forEach((v, i) => assert.ok(Math.abs(v - cli.position_embeddings[3][i]) <= TOLERANCE, `position embedding [${i}]`));
  const sum = await page.$$eval('[data-testid=token-plus-position] .vector[data-kind=embedding-sum] .cell', (cells) => cells.map((c) => Number(c.dataset.value)));
  sum.forEach((v, i) => assert.ok(Math.abs(v - cli.embedding_sum[3][i]) <= TOLERANCE, `input [${i}]`));
  await page.screenshot({ path: 'test-artifacts/positions-gpt2-1280.png', fullPage: true });

  // Sliders and the dimension list redraw.
  await page.$eval('[data-testid=pe-d-model]', (s) => { s.value = '16'; s.dispatchEvent(new Event('change', { bubbles: true })); });
  await waitShape(page, 'pe-sinusoidal', '64 16');
  await page.$eval('[data-testid=pe-positions]', (s) => { s.value = '32'; s.dispatchEvent(new Event('change', { bubbles: true })); });
  await waitShape(page, 'pe-sinusoidal', '32 16');
  await waitShape(page, 'pe-learned', `32 ${d}`);
  const shown = await hoverMatrix(page, 'pe-sinusoidal', 31, 15);
  assert.ok(Math.abs(shown - sinusoid(31, 15, 16)) <= TOLERANCE, `after the sliders: PE(31, 15) = ${shown}`);
  await page.fill('[data-testid=pe-dimensions]', '0, 3');
  await page.press('[data-testid=pe-dimensions]', 'Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid=pe-lines]')?.dataset.series === 'dim 0,dim 3');
  assert.deepEqual(errors, []);
  await context.close();

  const phone = await site.browser.newContext({ viewport: { width: 390, height: 844 } });
  const opened = await openPage(phone, site.origin, '?model=folder:fixture-gpt2');
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await opened.page.fill('[data-testid=text]', TEXT);
  await opened.page.click('[data-testid=tab-positions]');
  await waitShape(opened.page, 'pe-learned-similarity', '64 64');
  const overflow = await opened.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390 px`);
  await opened.page.screenshot({ path: 'test-artifacts/positions-gpt2-390.png', fullPage: true });
  assert.deepEqual(opened.errors, []);
  await phone.close();
});

test('token + position says what each family adds: nothing for DistilBERT, a segment for BERT-style sums', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-distilbert&panel=positions&text=${encodeURIComponent(TEXT)}`);
  await page.waitForSelector('[data-testid=token-plus-position]', { timeout: 60_000 });
  const shown = await page.textContent('[data-testid=token-plus-position]');
  assert.doesNotMatch(shown, /\(\+ segment embedding\)|also add a segment/, 'DistilBERT has no segment embedding');
  assert.match(shown, /= input/);
  assert.match(shown, /no segment embedding/);
  // The sum shown is the model's own: token + position, exactly.
  const vector = (kind) => page.$$eval(`[data-testid=token-plus-position] .vector[data-kind=${kind}] .cell`, (cells) => cells.map((c) => Number(c.dataset.value)));
  const [token, position, sum] = [await vector('token-embedding'), await vector('position-embedding'), await vector('embedding-sum')];
  sum.forEach((v, i) => assert.ok(Math.abs(v - token[i] - position[i]) <= TOLERANCE, `sum [${i}]`));
  assert.deepEqual(errors, []);
  await context.close();
});
