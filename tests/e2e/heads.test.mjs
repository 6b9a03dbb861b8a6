// The lab's head summary: every statistic's layers × heads map equals the same statistic
// recomputed here from the trace CLI's attentions (an independent implementation of the
// formulas), the search sums the chosen rows of the CLI's attentions, and the choice lives in
// the link, in English and Chinese.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { download, hoverMatrix, openPage, softmax, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const TEXT = 'Hello world, the cat sat on the mat.';
const STATISTICS = ['entropy', 'previous', 'first', 'own', 'separators', 'distance'];
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

async function openModel(model, query) {
  const context = await site.browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-${model}&text=${encodeURIComponent(TEXT)}&panel=lab${query}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  return { ...opened, context };
}

/** Separators: bracketed special tokens after the first, and tokens that are punctuation. */
function separators(tokens) {
  return tokens.map((token, at) => {
    const text = token.replace(/^[\sĠ▁]+|[\sĠ▁]+$/g, '');
    const special = at > 0 && /^\[[A-Z]+\]$/.test(text);
    return special || (text.length > 0 && /^[!-/:-@[-`{-~，。！？、；：“”‘’（）《》…—]+$/u.test(text));
  });
}

/** One head's statistic: the mean over the rows it describes. */
function statistic(name, matrix, separator) {
  const rows = matrix.map((row, q) => {
    switch (name) {
      case 'entropy': return -row.reduce((s, p) => (p > 0 ? s + p * Math.log2(p) : s), 0);
      case 'previous': return q === 0 ? null : row[q - 1];
      case 'first': return row[0];
      case 'own': return row[q];
      case 'separators': return row.reduce((s, p, k) => (separator[k] ? s + p : s), 0);
      case 'distance': return row.reduce((s, p, k) => s + p * Math.abs(q - k), 0);
      default: throw new Error(name);
    }
  }).filter((v) => v !== null);
  return rows.reduce((a, b) => a + b, 0) / rows.length;
}

/** The map's CSV as numbers [layer][head]. */
async function mapValues(page) {
  const csv = (await download(page, 'head-summary-map-csv')).bytes.toString().trim().split(/\r?\n/);
  return csv.slice(1).map((line) => line.split(',').slice(1).map(Number));
}

function assertClose(found, expected, what) {
  assert.equal(found.length, expected.length, what);
  found.forEach((row, l) => row.forEach((v, h) => assert.ok(Math.abs(v - expected[l][h]) <= TOLERANCE, `${what} ${l}:${h}: ${v} vs ${expected[l][h]}`)));
}

for (const model of ['gpt2', 'distilbert']) {
  test(`every head statistic of ${model} equals the one recomputed from the CLI's attentions`, async () => {
    const cli = traceCli(model, TEXT);
    const separator = separators(cli.tokens);
    assert.ok(separator.some(Boolean), 'the text has separators');
    const { page, errors, context } = await openModel(model, '');
    await page.waitForSelector('[data-testid=head-summary-map][data-plot*=" "]');
    for (const name of STATISTICS) {
      await page.selectOption('[data-testid=head-stat]', name);
      if (name !== 'entropy') await page.waitForFunction((n) => new URL(location.href).searchParams.get('head_stat') === n, name);
      const expected = cli.attentions.map((layer) => layer.map((head) => statistic(name, head, separator)));
      // The map follows the choice once its CSV differs from the last one's.
      let found;
      for (let attempt = 0; attempt < 20; attempt++) {
        found = await mapValues(page);
        if (found.every((row, l) => row.every((v, h) => Math.abs(v - expected[l][h]) <= TOLERANCE))) break;
        await page.waitForTimeout(100);
      }
      assertClose(found, expected, `${model} ${name}`);
      // The ranked table starts with the largest.
      const first = await page.$eval('[data-testid=head-ranked]', (n) => [Number(n.dataset.layer), Number(n.dataset.head), Number(n.dataset.value)]);
      assert.ok(Math.abs(first[2] - Math.max(...expected.flat())) <= TOLERANCE, `${name}: the top row is the largest`);
    }
    await page.locator('[data-testid=head-summary]').screenshot({ path: `test-artifacts/head-summary-${model}.png` });
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('the search ranks the heads by how much chosen tokens attend to one, from a link', async () => {
  const cli = traceCli('gpt2', TEXT);
  const { page, errors, context } = await openModel('gpt2', '&head_stat=search&search_from=5,7&search_to=1&layer=2&head=3');
  await page.waitForSelector('[data-testid=head-summary-map][data-plot*=" "]');
  const summed = (from, to) => cli.attentions.map((layer) => layer.map((head) => from.reduce((s, q) => s + head[q][to], 0)));
  assertClose(await mapValues(page), summed([5, 7], 1), 'from 5 and 7 to 1');
  assert.equal(await page.getAttribute('[data-testid=search-from][data-position="7"]', 'aria-pressed'), 'true');
  // The selected head's chosen rows, summed over each key.
  const bars = (await download(page, 'head-summed-rows-csv')).bytes.toString().trim().split(/\r?\n/).slice(1)
    .map((line) => Number(line.match(/,([^,]+)$/)[1]));
  const head = cli.attentions[1][2];
  bars.forEach((b, k) => assert.ok(Math.abs(b - (head[5][k] + head[7][k])) <= TOLERANCE, `summed row, key ${k}`));
  // A third query token, another key: the map and the link follow.
  await page.click('[data-testid=search-from][data-position="3"]');
  await page.click('[data-testid=search-to][data-position="2"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('search_from') === '3,5,7'
    && new URL(location.href).searchParams.get('search_to') === '2');
  assertClose(await mapValues(page), summed([3, 5, 7], 2), 'from 3, 5 and 7 to 2');
  // A click on the map shows that head everywhere.
  await hoverMatrix(page, 'head-summary-map', 0, 1);
  await page.mouse.down();
  await page.mouse.up();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('layer') === '1'
    && new URL(location.href).searchParams.get('head') === '2');
  await page.screenshot({ path: 'test-artifacts/head-search.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the head summary in Chinese; a search with no tokens left says what to do', async () => {
  const { page, errors, context } = await openModel('gpt2', '&lang=zh&head_stat=search&search_from=99&search_to=0');
  await page.waitForSelector('[data-testid=head-summary]');
  assert.match(await page.textContent('[data-testid=head-summary] h3'), /每个注意力头在做什么/);
  await page.waitForFunction(() => /请至少选择/.test(document.querySelector('[data-testid=head-summary]')?.textContent ?? ''));
  assert.equal(await page.$('[data-testid=head-summary-map]'), null, 'no map without a token to search from');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the induction detector finds the head planted in the induction fixture, as the CLI does', async () => {
  const cli = traceCli('induction', TEXT, ['--induction', '20', '--seed', '0']).induction;
  const { page, errors, context } = await openModel('induction', '');
  await page.click('[data-testid=induction-run]');
  await page.waitForSelector('[data-testid=induction-map][data-plot*=" "]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('induction_seed') === '0');
  const csv = (await download(page, 'induction-map-csv')).bytes.toString().trim().split(/\r?\n/);
  const scores = csv.slice(1).map((line) => line.split(',').slice(1).map(Number));
  assertClose(scores, cli.scores, 'induction scores');
  // The planted head tops the ranking and its stripe is on screen once it is clicked.
  const flat = cli.scores.flat();
  const best = flat.indexOf(Math.max(...flat));
  const [layer, head] = [Math.floor(best / cli.scores[0].length), best % cli.scores[0].length];
  const top = await page.$eval('[data-testid=induction-ranked]', (n) => [Number(n.dataset.layer), Number(n.dataset.head)]);
  assert.deepEqual(top, [layer, head]);
  assert.ok(flat[best] > 0.5, `the planted head scores ${flat[best]}`);
  await page.click('[data-testid=induction-ranked] button');
  await page.waitForFunction(([l, h]) => new URL(location.href).searchParams.get('layer') === String(l + 1)
    && new URL(location.href).searchParams.get('head') === String(h + 1), [layer, head]);
  const period = cli.period;
  const cell = await hoverMatrix(page, 'induction-head-attention', period + 5, period + 5 - period + 1);
  assert.ok(cell > 0.3, `the second copy's token 5 looks at the token after its first occurrence: ${cell}`);
  assert.match(await page.textContent('[data-testid=induction-sequence]'), new RegExp(cli.tokens.slice(1, 4).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(' ')));
  // Other random tokens: the seed moves on and the link follows.
  await page.click('[data-testid=induction-again]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('induction_seed') === '1');
  await page.locator('[data-testid=lab-induction]').screenshot({ path: 'test-artifacts/lab-induction.png' });
  assert.deepEqual(errors, []);
  await context.close();
});

/** Attention rollout through `layer`, recomputed from the CLI's attentions. */
function rollout(attentions, layer) {
  const n = attentions[0][0].length;
  let result = [...Array(n)].map((_, q) => [...Array(n)].map((_, k) => (q === k ? 1 : 0)));
  for (let l = 0; l <= layer; l++) {
    const heads = attentions[l];
    const mixed = [...Array(n)].map((_, q) => {
      const row = [...Array(n)].map((_, k) => 0.5 * heads.reduce((s, h) => s + h[q][k], 0) / heads.length + (q === k ? 0.5 : 0));
      const sum = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / sum);
    });
    result = mixed.map((row) => [...Array(n)].map((_, k) => row.reduce((s, w, via) => s + w * result[via][k], 0)));
  }
  return result;
}

test('attention rollout through a layer equals the one recomputed from the CLI, and says it is an approximation', async () => {
  const cli = traceCli('distilbert', TEXT);
  const { page, errors, context } = await openModel('distilbert', '&layer=2');
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  await page.check('[data-testid=rollout]');
  await page.waitForSelector('[data-testid=rollout-note]');
  await page.waitForFunction(() => /rollout/i.test(document.querySelector('[data-testid=heatmap-title]')?.textContent ?? ''));
  const n = cli.input_ids.length;
  const csv = (await download(page, 'heatmap-export-csv')).bytes.toString().trim().split(/\r?\n/);
  const grid = csv.slice(1).map((line) => line.split(',').slice(-n).map(Number));
  assertClose(grid, rollout(cli.attentions, 1), 'rollout through layer 2');
  assert.match(await page.textContent('[data-testid=rollout-note]'), /not a number the model computes/);
  // A head's thumbnail goes back to that head.
  await page.click('[data-testid=thumb-0-1]');
  await page.waitForFunction(() => !document.querySelector('[data-testid=rollout-note]'));
  await page.screenshot({ path: 'test-artifacts/rollout.png' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('two sentences side by side: the difference heatmap is A − B of two CLI traces, and both predictions are the CLI\'s', async () => {
  const [first, second] = ['The doctor said that she', 'The doctor said that he'];
  const a = traceCli('gpt2', first);
  const b = traceCli('gpt2', second);
  assert.equal(a.input_ids.length, b.input_ids.length, 'a minimal pair with as many tokens');
  const context = await site.browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const { page, errors } = await openPage(context, site.origin,
    `?model=folder:fixture-gpt2&text=${encodeURIComponent(first)}&text2=${encodeURIComponent(second)}&panel=lab&layer=2&head=3`);
  await page.waitForSelector('[data-testid=compare-difference][data-plot*=" "]', { timeout: 60_000 });
  const csv = (await download(page, 'compare-difference-csv')).bytes.toString().trim().split(/\r?\n/);
  const n = a.input_ids.length;
  const difference = csv.slice(1).map((line) => line.split(',').slice(-n).map(Number));
  const expected = a.attentions[1][2].map((row, q) => row.map((w, k) => w - b.attentions[1][2][q][k]));
  assertClose(difference, expected, 'A − B');
  assert.ok(expected.flat().some((d) => Math.abs(d) > 1e-3), 'the pair differs somewhere');
  // Both texts' predictions.
  await page.waitForSelector('[data-testid=compare-prediction]');
  const [pa, pb] = [softmax(a.logits[n - 1]), softmax(b.logits[n - 1])];
  const rows = await page.$$eval('[data-testid=compare-prediction]', (nodes) => nodes.map((r) => ({ ...r.dataset })));
  assert.equal(rows.length, 5);
  rows.forEach((r, i) => {
    assert.ok(Math.abs(Number(r.first) - pa[Number(r.firstId)]) <= TOLERANCE, `first, row ${i}`);
    assert.ok(Math.abs(Number(r.second) - pb[Number(r.secondId)]) <= TOLERANCE, `second, row ${i}`);
  });
  assert.equal(Number(rows[0].firstId), pa.indexOf(Math.max(...pa)));
  // Saliency of both, on request.
  await page.check('[data-testid=compare-saliency]');
  for (const [testid, cli] of [['compare-saliency-first', a], ['compare-saliency-second', b]]) {
    await page.waitForFunction((t) => /\d\.\d{3}/.test(document.querySelector(`[data-testid=${t}]`)?.getAttribute('aria-label') ?? ''), testid);
    const bars = (await download(page, `${testid}-csv`)).bytes.toString().trim().split(/\r?\n/).slice(1)
      .map((line) => Number(line.match(/,([^,]+)$/)[1]));
    bars.forEach((v, i) => assert.ok(Math.abs(v - cli.saliency.scores[i]) <= TOLERANCE, `${testid} ${i}: ${v} vs ${cli.saliency.scores[i]}`));
  }
  await page.locator('[data-testid=lab-compare]').screenshot({ path: 'test-artifacts/lab-compare.png' });
  assert.equal(new URL(page.url()).searchParams.get('text2'), second);
  // A pair whose token counts differ says so instead of a difference.
  await page.fill('[data-testid=text2]', 'The doctor said that they did');
  await page.press('[data-testid=text2]', 'Enter');
  await page.waitForSelector('[data-testid=compare-counts]');
  assert.match(await page.textContent('[data-testid=compare-counts]'), new RegExp(`The first sentence has ${n} tokens`));
  assert.deepEqual(errors, []);
  await context.close();
});
