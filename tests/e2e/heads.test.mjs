// The lab's head summary: every statistic's layers × heads map equals the same statistic
// recomputed here from the trace CLI's attentions (an independent implementation of the
// formulas), the search sums the chosen rows of the CLI's attentions, and the choice lives in
// the link, in English and Chinese.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { download, hoverMatrix, openPage, start, traceCli } from './support.mjs';

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
