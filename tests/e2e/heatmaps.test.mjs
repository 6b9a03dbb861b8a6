// The heatmaps show the trace CLI's attention weights: the hovered cell's value, the head
// average, hidden special tokens with renormalisation, the top-share filter; the overview's
// thumbnails select layer and head for every panel; the line view draws the weights it should.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const GPT2_TEXT = 'The cat sat on the mat because it was warm.';
const BERT_TEXT = 'the cat sat on the mat';
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

async function openModel(viewport, model, text, tokenCount) {
  const context = await site.browser.newContext({ viewport });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-${model}`);
  const { page } = opened;
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.fill('[data-testid=text]', text);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, tokenCount);
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  return { ...opened, context };
}

/** Moves the pointer to the centre of the heatmap cell (row, column) and reads the tooltip. */
async function hoverCell(page, row, column) {
  await page.locator('[data-testid=heatmap]').scrollIntoViewIfNeeded();
  const geometry = await page.$eval('[data-testid=heatmap]', (canvas) => {
    const [left, top, right, bottom] = canvas.dataset.plot.split(' ').map(Number);
    const box = canvas.getBoundingClientRect();
    return { left, top, right, bottom, box: { x: box.x, y: box.y, scale: box.width / canvas.width }, size: canvas.dataset.positions.split(',').length };
  });
  const { left, top, right, bottom, box, size } = geometry;
  const x = box.x + (left + ((column + 0.5) * (right - left)) / size) * box.scale;
  const y = box.y + (top + ((row + 0.5) * (bottom - top)) / size) * box.scale;
  await page.mouse.move(x, y);
  const tooltip = await page.waitForSelector('[data-testid=heatmap-tooltip]');
  return tooltip.evaluate((node) => ({ ...node.dataset, text: node.textContent }));
}

async function waitAttribute(page, selector, name, value) {
  try {
    await page.waitForFunction(([s, n, v]) => document.querySelector(s)?.getAttribute(n) === v, [selector, name, String(value)], { timeout: 10_000 });
  } catch (error) {
    const actual = await page.getAttribute(selector, name);
    throw new Error(`${selector} ${name}: expected ${value}, found ${actual}`);
  }
}

test('GPT-2: hovered cells, head average, token highlight, thumbnails and the line view match the trace', async () => {
  const cli = traceCli('gpt2', GPT2_TEXT);
  const n = cli.input_ids.length;
  const { page, errors, context } = await openModel({ width: 1280, height: 800 }, 'gpt2', GPT2_TEXT, n);
  const [LAYER, HEAD] = [1, 2];
  await page.selectOption('[data-testid=layer]', { value: String(LAYER) });
  await page.selectOption('[data-testid=head]', { value: String(HEAD) });
  await waitAttribute(page, '[data-testid=heatmap]', 'data-head', HEAD);
  assert.match(await page.textContent('[data-testid=heatmap-title]'), /Layer 2, head 3/);

  const weights = cli.attentions[LAYER][HEAD];
  for (const [query, key] of [[0, 0], [3, 1], [n - 1, 0], [n - 1, n - 1], [5, 5], [2, 7]]) {
    const shown = await hoverCell(page, query, key);
    assert.equal(Number(shown.query), query);
    assert.equal(Number(shown.key), key);
    if (key > query) {
      assert.equal(shown.kind, 'masked', `(${query}, ${key}) is a future key`);
      assert.equal(weights[query][key], 0);
    } else {
      assert.ok(Math.abs(Number(shown.value) - weights[query][key]) <= TOLERANCE,
        `(${query}, ${key}): shown ${shown.value}, trace CLI ${weights[query][key]}`);
      assert.ok(shown.text.includes(cli.tokens[query]) && shown.text.includes(cli.tokens[key]), 'the tooltip names both tokens');
    }
  }

  // Hovering a token chip outlines its row and column.
  await page.hover('[data-testid=token][data-index="4"]');
  await waitAttribute(page, '[data-testid=heatmap]', 'data-highlight', 4);
  await page.screenshot({ path: 'test-artifacts/heatmaps-gpt2-1280.png', fullPage: true });

  // The head average is the mean of the layer's heads.
  await page.check('[data-testid=average-heads]');
  await waitAttribute(page, '[data-testid=heatmap]', 'data-average', true);
  const heads = cli.attentions[LAYER];
  const mean = heads.reduce((sum, head) => sum + head[6][2], 0) / heads.length;
  const averaged = await hoverCell(page, 6, 2);
  assert.ok(Math.abs(Number(averaged.value) - mean) <= TOLERANCE, `average (6, 2): shown ${averaged.value}, mean ${mean}`);
  assert.match(await page.textContent('[data-testid=heatmap-title]'), /average of all heads/);

  // A thumbnail selects its layer and head everywhere (and leaves the average).
  await page.click('[data-testid=thumb-0-1]');
  await waitAttribute(page, '[data-testid=heatmap]', 'data-head', 1);
  assert.equal(await page.$eval('[data-testid=layer]', (s) => s.value), '0');
  assert.equal(await page.$eval('[data-testid=head]', (s) => s.value), '1');
  assert.equal(await page.getAttribute('[data-testid=heatmap]', 'data-average'), 'false');
  assert.equal(await page.getAttribute('[data-testid=thumb-0-1]', 'aria-pressed'), 'true');
  const thumbnailCell = await hoverCell(page, 7, 3);
  assert.ok(Math.abs(Number(thumbnailCell.value) - cli.attentions[0][1][7][3]) <= TOLERANCE, 'the heatmap now shows layer 1, head 2');

  // The line view: only the selected head, then one query's lines.
  const visible = (rows) => rows.flat().filter((w) => w >= 0.01).length;
  await page.click('[data-testid=line-only-selected]');
  await page.mouse.move(0, 0);
  await waitAttribute(page, '[data-testid=line-view]', 'data-lines', visible(cli.attentions[0][1]));
  await page.click('[data-testid=token][data-index="6"]'); // pinned: the focus stays while the pointer moves on
  await waitAttribute(page, '[data-testid=line-view]', 'data-lines', visible([cli.attentions[0][1][6]]));
  await page.check('[data-testid=line-head-3]');
  await waitAttribute(page, '[data-testid=line-view]', 'data-lines', visible([cli.attentions[0][1][6], cli.attentions[0][3][6]]));

  // The step-through follows the thumbnail's selection.
  await page.click('[data-testid=tab-step]');
  assert.match(await page.textContent('[data-testid=step-header]'), /Layer 1, head 2/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('DistilBERT: hiding special tokens renormalises rows, the top share filters, on a phone too', async () => {
  const cli = traceCli('distilbert', BERT_TEXT);
  const n = cli.input_ids.length;
  const { page, errors, context } = await openModel({ width: 390, height: 844 }, 'distilbert', BERT_TEXT, n);
  const [LAYER, HEAD] = [0, 0];
  const weights = cli.attentions[LAYER][HEAD];
  // Bidirectional: nothing is masked.
  const first = await hoverCell(page, 1, n - 1);
  assert.equal(first.kind, 'weight');
  assert.ok(Math.abs(Number(first.value) - weights[1][n - 1]) <= TOLERANCE);

  await page.check('[data-testid=hide-special]');
  await page.waitForSelector('[data-testid=renormalised]');
  const kept = [...Array(n).keys()].slice(1, n - 1);
  await waitAttribute(page, '[data-testid=heatmap]', 'data-positions', kept.join(','));
  const [row, column] = [2, 0];
  const [query, key] = [kept[row], kept[column]];
  const keptMass = kept.reduce((sum, k) => sum + weights[query][k], 0);
  const renormalised = await hoverCell(page, row, column);
  assert.equal(Number(renormalised.query), query);
  assert.ok(Math.abs(Number(renormalised.value) - weights[query][key] / keptMass) <= TOLERANCE,
    `renormalised (${query}, ${key}): shown ${renormalised.value}, expected ${weights[query][key] / keptMass}`);

  // Top 30 %: the weakest key of a row is filtered out but still readable on hover.
  await page.uncheck('[data-testid=hide-special]');
  await page.$eval('[data-testid=top-share]', (slider) => {
    slider.value = '30';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const rowWeights = weights[3];
  const weakest = rowWeights.indexOf(Math.min(...rowWeights));
  const filtered = await hoverCell(page, 3, weakest);
  assert.equal(filtered.kind, 'below-share');
  assert.ok(Math.abs(Number(filtered.value) - rowWeights[weakest]) <= TOLERANCE);
  const strongest = rowWeights.indexOf(Math.max(...rowWeights));
  assert.equal((await hoverCell(page, 3, strongest)).kind, 'weight');

  // The table alternative lists every value.
  await page.click('summary:has-text("Values as a table")');
  const cells = await page.$$eval('[data-testid=heatmap-table] tbody tr:nth-child(4) td', (tds) => tds.map((td) => Number(td.dataset.value)));
  cells.forEach((value, k) => assert.ok(Math.abs(value - rowWeights[k]) <= TOLERANCE, `table (3, ${k})`));

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll'))
    .slice(0, 5).map((e) => `${e.tagName}.${e.className}`));
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390 px: ${wide}`);
  await page.screenshot({ path: 'test-artifacts/heatmaps-distilbert-390.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
