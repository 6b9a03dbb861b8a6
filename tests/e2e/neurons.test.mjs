// The rest of the block and Ecco's views show the trace CLI's numbers: a layer's strongest
// neurons and one neuron over the text = the CLI's mlp_activations, the NMF at 2 and 8 factors
// (non-negative, the same on a re-run), the residual stream's norms, the rankings grid, watched
// words and surprisal = the CLI's rankings, and the anatomy's total = transformers' parameter
// count; in English and Chinese, with every new chart's downloads (CSV, JSON, SVG, PNG), at phone
// width.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { download, hoverMatrix, openPage, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const TEXT = 'Hello world, the cat sat on the mat.';
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

async function openModel(model, viewport = { width: 1100, height: 900 }, query = '') {
  const context = await site.browser.newContext({ viewport });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-${model}${query}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  return { ...opened, context };
}

async function setSlider(page, testid, value) {
  await page.$eval(`[data-testid=${testid}]`, (input, v) => {
    input.value = String(v);
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

const close = (a, b) => Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(b));

test('neurons: the strongest neurons, one neuron over the text, NMF at 2 and 8 factors and the residual stream', async () => {
  const cli = traceCli('gpt2', TEXT);
  const { page, errors, context } = await openModel('gpt2');
  await page.fill('[data-testid=text]', TEXT);
  await page.click('[data-testid=tab-neurons]');
  const n = cli.input_ids.length;
  // Layer 1 (index 0), the query token is the last one.
  await page.waitForSelector('[data-testid=neuron-choice]');
  const activations = cli.mlp_activations[0][n - 1];
  const expected = activations.map((v, i) => [i, v]).sort((a, b) => b[1] - a[1]).slice(0, 10);
  const shown = await page.$$eval('[data-testid=neuron-choice]', (nodes) => nodes.map((b) => [Number(b.dataset.neuron), Number(b.dataset.value)]));
  assert.equal(shown.length, 10);
  shown.forEach(([neuron, value], rank) => {
    assert.equal(neuron, expected[rank][0], `rank ${rank}: neuron`);
    assert.ok(close(value, expected[rank][1]), `rank ${rank}: ${value} vs ${expected[rank][1]}`);
  });
  // The bars download as JSON with the same ten activations, and as SVG and PNG.
  const bars = JSON.parse((await download(page, 'neuron-bars-json')).bytes.toString());
  assert.deepEqual(bars.rows.map((r) => r.label), expected.map(([i]) => `neuron ${i}`));
  bars.rows.forEach((r, rank) => assert.ok(close(r.values[0], expected[rank][1]), `bar ${rank}`));
  assert.match((await download(page, 'neuron-bars-svg')).bytes.toString(), /^<svg|<\?xml/);
  // Choose the third: its activation on every token is the CLI's column.
  const third = expected[2][0];
  await page.click(`[data-testid=neuron-choice][data-neuron="${third}"]`);
  await page.waitForSelector(`[data-testid=neuron-tokens][data-neuron="${third}"]`);
  const over = await page.$$eval('[data-testid=neuron-tokens] .salient', (nodes) => nodes.map((s) => Number(s.dataset.value)));
  assert.equal(over.length, n);
  over.forEach((value, t) => assert.ok(close(value, cli.mlp_activations[0][t][third]), `token ${t}`));

  // The map: every token × the neurons with the highest peaks in the text, as the CLI has them.
  const width = cli.mlp_activations[0][0].length;
  const peaks = [...Array(width).keys()].map((i) => [i, Math.max(...cli.mlp_activations[0].map((row) => row[i]))]);
  const mapped = peaks.sort((a, b) => b[1] - a[1]).slice(0, 48).map(([i]) => i);
  const map = (await download(page, 'neuron-map-csv')).bytes.toString().trim().split(/\r?\n/).map((line) => line.split(','));
  assert.deepEqual(map[0].slice(1), mapped.map((i) => `#${i}`), 'the columns are the most active neurons, strongest first');
  assert.equal(map.length, n + 1, 'one row per token');
  map.slice(1).forEach((row, t) => row.slice(-mapped.length).forEach((value, c) =>
    assert.ok(close(Number(value), cli.mlp_activations[0][t][mapped[c]]), `map token ${t}, neuron ${mapped[c]}`)));
  assert.ok(close(await hoverMatrix(page, 'neuron-map', 2, 5), cli.mlp_activations[0][2][mapped[5]]), 'a hovered cell');
  await page.mouse.down();
  await page.mouse.up();
  await page.waitForSelector(`[data-testid=neuron-tokens][data-neuron="${mapped[5]}"]`);
  await page.locator('[data-testid=neuron-map]').screenshot({ path: 'test-artifacts/neurons-map.png' });
  const png = (await download(page, 'neuron-map-png')).bytes;
  assert.equal(png.subarray(1, 4).toString(), 'PNG', 'the map downloads as a PNG');

  // NMF: 4 factors by default, then 2 and 8; each repeats exactly.
  async function factors(count) {
    if (count !== null) await setSlider(page, 'nmf-factors', count);
    const wanted = String(count ?? 4);
    await page.waitForSelector(`[data-testid=nmf-summary][data-factors="${wanted}"]`);
    return page.$$eval('[data-testid=nmf-factor]', (rows) => rows.map((row) => [...row.querySelectorAll('.salient')].map((s) => Number(s.dataset.value))));
  }
  await factors(null);
  const two = await factors(2);
  assert.equal(two.length, 2);
  const eight = await factors(8);
  assert.equal(eight.length, 8);
  for (const row of [...two, ...eight]) {
    assert.equal(row.length, n);
    assert.ok(row.every((v) => v >= 0 && Number.isFinite(v)), 'factor strengths are non-negative');
  }
  const error8 = Number(await page.getAttribute('[data-testid=nmf-summary]', 'data-error'));
  // Dragging re-fits: an input event alone (no release) asks for the new count.
  await page.$eval('[data-testid=nmf-factors]', (input) => {
    input.value = '3';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.waitForSelector('[data-testid=nmf-summary][data-factors="3"]');
  assert.deepEqual(await factors(2), two, 'the same 2 factors again');
  const error2 = Number(await page.getAttribute('[data-testid=nmf-summary]', 'data-error'));
  assert.ok(error8 < error2 && error2 < 1, `8 factors explain more than 2: ${error8} < ${error2}`);
  await page.screenshot({ path: 'test-artifacts/neurons-nmf.png', fullPage: true });
  const csv = (await download(page, 'nmf-lines-csv')).bytes.toString();
  assert.equal(csv.trim().split('\n').length, n + 1, 'one row per position in the factor lines');
  const svg = (await download(page, 'nmf-lines-svg')).bytes.toString();
  assert.ok(svg.includes('factor 1') && svg.includes('factor 2'), 'the SVG names the factors');

  // The residual stream at the query token: the norms of the CLI's vectors.
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const residual = (await download(page, 'residual-lines-json')).bytes.toString();
  const table = JSON.parse(residual);
  const last = n - 1;
  const stream = table.rows.map((r) => r.values[0]);
  const attention = table.rows.map((r) => r.values[1]);
  const ffn = table.rows.map((r) => r.values[2]);
  for (let layer = 0; layer < 2; layer++) {
    assert.ok(close(attention[layer], norm(cli.attention_outputs[layer][last])), `attention ${layer}`);
    assert.ok(close(ffn[layer], norm(cli.mlp_outputs[layer][last])), `feed-forward ${layer}`);
  }
  // After block 1 the stream is the hidden state HF gives (the last is after ln_f, so block 1 only).
  assert.ok(close(stream[0], norm(cli.hidden_states[1][last])), 'stream after block 1');

  // In Chinese: the panel's words change, its numbers and the chosen neuron stay.
  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
  assert.match(await page.textContent('[data-testid=panel-neurons] h2'), /神经元/);
  assert.match(await page.textContent('[data-testid=nmf] h3'), /因子/);
  assert.match(await page.textContent('[data-testid=residual] h3'), /残差流/);
  assert.match(await page.textContent('[data-testid=nmf-summary]'), /层/);
  assert.ok(await page.$(`[data-testid=neuron-tokens][data-neuron="${mapped[5]}"]`), 'the chosen neuron stays');
  await page.screenshot({ path: 'test-artifacts/neurons-zh.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('rankings: the grid, the next-token toggle, watched words and surprisal match the CLI, in Chinese too', async () => {
  const cli = traceCli('gpt2', TEXT, ['--watch', 'the', '--watch', 'cat']);
  const { page, errors, context } = await openModel('gpt2');
  await page.fill('[data-testid=text]', TEXT);
  await page.click('[data-testid=tab-rankings]');
  const flat = (grid) => grid.flat().join(' ');
  await page.waitForSelector('[data-testid=rankings-grid][data-ranks]');
  assert.equal(await page.getAttribute('[data-testid=rankings-grid]', 'data-ranks'), flat(cli.rankings.prediction_ranks));
  const streams = cli.rankings.prediction_ranks.length;
  // A hovered cell says its rank.
  assert.equal(await hoverMatrix(page, 'rankings-grid', 1, 4), cli.rankings.prediction_ranks[1][4]);
  await page.check('[data-testid=rankings-next]');
  await page.waitForFunction((ranks) => document.querySelector('[data-testid=rankings-grid]')?.dataset.ranks === ranks, flat(cli.rankings.next_token_ranks));
  const csv = (await download(page, 'rankings-grid-csv')).bytes.toString().trim().split('\n');
  assert.equal(csv.length, streams + 1);

  await page.fill('[data-testid=rankings-watch]', 'the, cat');
  await page.press('[data-testid=rankings-watch]', 'Enter');
  const last = cli.input_ids.length - 1;
  const watched = [];
  for (let s = 0; s < streams; s++) for (const w of cli.rankings.watched) watched.push(w.ranks[s][last]);
  await page.waitForFunction((ranks) => document.querySelector('[data-testid=rankings-watched]')?.dataset.ranks === ranks, watched.join(' '));
  const watchedCsv = (await download(page, 'rankings-watched-csv')).bytes.toString().trim().split(/\r?\n/);
  const watchedRanks = watchedCsv.slice(1).flatMap((line) => line.split(',').slice(1).map(Number));
  assert.deepEqual(watchedRanks, watched, 'the watched words\' ranks download as CSV');

  const surprisal = await page.$$eval('[data-testid=surprisal-tokens] .salient', (nodes) => nodes.map((s) => Number(s.dataset.value)));
  assert.equal(surprisal.length, cli.rankings.surprisal.length);
  surprisal.forEach((v, i) => assert.ok(close(v, cli.rankings.surprisal[i]), `surprisal ${i}: ${v}`));
  const [loss, perplexity] = cli.rankings.loss_and_perplexity;
  assert.ok(close(Number(await page.getAttribute('[data-testid=surprisal-loss]', 'data-loss')), loss));
  assert.ok(close(Number(await page.getAttribute('[data-testid=surprisal-loss]', 'data-perplexity')), perplexity));
  await page.screenshot({ path: 'test-artifacts/rankings.png', fullPage: true });

  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
  assert.match(await page.textContent('[data-testid=panel-rankings] h2'), /排名/);
  assert.match(await page.textContent('[data-testid=surprisal]'), /困惑度/);
  assert.equal(await page.getAttribute('[data-testid=rankings-watched]', 'data-ranks'), watched.join(' '), 'the grid stays through the switch');
  await page.screenshot({ path: 'test-artifacts/rankings-zh.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('anatomy: the total is transformers\' parameter count, for GPT-2 and for a translator', async () => {
  for (const model of ['gpt2', 't5']) {
    const meta = JSON.parse(readFileSync(`tests/fixtures/${model}/reference.json`, 'utf8'));
    const { page, errors, context } = await openModel(model);
    await page.click('[data-testid=tab-anatomy]');
    await page.waitForSelector('[data-testid=anatomy-parts]');
    assert.equal(Number(await page.getAttribute('[data-testid=anatomy-parts]', 'data-total')), meta.parameters, model);
    const weights = await page.$$eval('[data-testid=anatomy-weight]', (rows) => rows.map((r) => Number(r.dataset.value)));
    assert.equal(weights.reduce((a, b) => a + b, 0), meta.parameters, `${model}: the matrices add up`);
    const parts = await page.$$eval('[data-testid=anatomy-parts] tbody tr', (rows) => rows.map((r) => Number(r.dataset.value)));
    assert.equal(parts.reduce((a, b) => a + b, 0), meta.parameters, `${model}: the parts add up`);
    await page.screenshot({ path: `test-artifacts/anatomy-${model}.png`, fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  }
});
