// The toy sandbox: its presets give the course's worked numbers, every intermediate equals
// softmax(QKᵀ/√dₖ + M)·V computed here independently, the toggles, sizes and typed cells
// recompute, a cell that is not a number is named, and the √dₖ demonstration saturates
// without the division. In Chinese on a phone too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start } from './support.mjs';

const TOLERANCE = 1e-6;
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

/** Every intermediate of softmax(QKᵀ/√dₖ + M)·V, in f64. */
function attention(q, k, v, { scaled, masked }) {
  const dot = q.map((qi) => k.map((kj) => qi.reduce((s, x, d) => s + x * kj[d], 0)));
  const scale = scaled ? Math.sqrt(q[0].length) : 1;
  const scores = dot.map((row) => row.map((s) => s / scale));
  const maskedScores = scores.map((row, i) => row.map((s, j) => (masked && j > i ? -Infinity : s)));
  const weights = maskedScores.map((row) => {
    const max = Math.max(...row);
    const exps = row.map((s) => Math.exp(s - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  });
  const output = weights.map((w) => v[0].map((_, c) => w.reduce((s, x, j) => s + x * v[j][c], 0)));
  return { dot, scores, maskedScores, weights, output };
}

/** The numbers a result table shows (their exact values), row by row. */
async function shown(page, testid) {
  return page.$$eval(`[data-testid=${testid}] tbody tr`, (rows) =>
    rows.map((row) => [...row.querySelectorAll('.num')].map((n) => (n.dataset.value === '-inf' ? -Infinity : Number(n.dataset.value)))));
}

/** What the typed cells of q, k and v hold. */
async function typed(page) {
  const matrix = (name) => page.$$eval(`[data-testid=sandbox-${name}] tbody tr`, (rows) =>
    rows.map((row) => [...row.querySelectorAll('input')].map((i) => Number(i.value))));
  return { q: await matrix('q'), k: await matrix('k'), v: await matrix('v') };
}

function assertClose(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: rows`);
  actual.forEach((row, i) => {
    assert.equal(row.length, expected[i].length, `${what}: row ${i}`);
    row.forEach((x, j) => {
      const e = expected[i][j];
      const close = x === e || Math.abs(x - e) <= TOLERANCE * Math.max(1, Math.abs(e));
      assert.ok(close, `${what}[${i}][${j}]: shown ${x}, expected ${e}`);
    });
  });
}

/** Checks every intermediate on screen against the reference, once the weights match it. */
async function assertIntermediates(page, settings) {
  const { q, k, v } = await typed(page);
  const expected = attention(q, k, v, settings);
  await page.waitForFunction((rows) => {
    const cells = [...document.querySelectorAll('[data-testid=sandbox-weights] tbody .num')];
    const want = rows.flat();
    return cells.length === want.length && cells.every((c, i) => Math.abs(Number(c.dataset.value) - want[i]) < 1e-5);
  }, expected.weights);
  assertClose(await shown(page, 'sandbox-dot'), expected.dot, 'QKᵀ');
  assertClose(await shown(page, 'sandbox-scores'), expected.scores, 'scores');
  assertClose(await shown(page, 'sandbox-masked-scores'), expected.maskedScores, 'masked scores');
  assertClose(await shown(page, 'sandbox-weights'), expected.weights, 'weights');
  assertClose(await shown(page, 'sandbox-output'), expected.output, 'output');
  return expected;
}

const settings = async (page) => ({
  scaled: await page.isChecked('[data-testid=sandbox-scaled]'),
  masked: await page.isChecked('[data-testid=sandbox-masked]'),
});

test('presets give the worked examples; toggles, sizes and typed cells recompute', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&panel=sandbox');
  await page.waitForSelector('[data-testid=sandbox-weights]', { timeout: 60_000 });

  // The look-ahead example: weights [[1, 0], [0.15, 0.85]] to the course's two decimals.
  assert.deepEqual(await settings(page), { scaled: true, masked: true });
  await assertIntermediates(page, { scaled: true, masked: true });
  const weights = await shown(page, 'sandbox-weights');
  assert.deepEqual(weights.map((row) => row.map((w) => w.toFixed(2))), [['1.00', '0.00'], ['0.15', '0.85']]);
  assert.equal(weights[0][1], 0, 'a masked key gets exactly 0');
  const maskedCell = await page.textContent('[data-testid=sandbox-masked-scores] tbody tr:first-child td:last-child');
  assert.equal(maskedCell.trim(), '−∞');
  await page.screenshot({ path: 'test-artifacts/sandbox-look-ahead.png', fullPage: true });

  // The toggles.
  await page.uncheck('[data-testid=sandbox-masked]');
  await assertIntermediates(page, { scaled: true, masked: false });
  await page.uncheck('[data-testid=sandbox-scaled]');
  const unscaled = await assertIntermediates(page, { scaled: false, masked: false });
  assertClose(unscaled.scores, unscaled.dot, 'unscaled scores are the dot products');

  // The three-token example (dₖ = 2, no mask).
  await page.click('[data-testid=sandbox-preset-three-tokens]');
  assert.deepEqual(await settings(page), { scaled: true, masked: false });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=sandbox-weights] tbody tr').length === 3);
  await assertIntermediates(page, { scaled: true, masked: false });

  // A typed number, then a bigger size (new cells are 0), the mask back on.
  await page.fill('[data-testid=sandbox-q-2-1]', '-2.5');
  await assertIntermediates(page, await settings(page));
  await page.selectOption('[data-testid=sandbox-tokens]', { value: '5' });
  await page.selectOption('[data-testid=sandbox-width]', { value: '4' });
  await page.fill('[data-testid=sandbox-k-4-3]', '3');
  await page.fill('[data-testid=sandbox-v-3-2]', '7');
  await page.check('[data-testid=sandbox-masked]');
  const bigger = await assertIntermediates(page, await settings(page));
  assert.equal(bigger.weights.length, 5);
  assert.equal(bigger.output[0].length, 4);
  assert.equal(await page.inputValue('[data-testid=sandbox-q-2-1]'), '-2.5', 'resizing keeps what fits');

  // Not a number: named, marked, and the last results stay until it is fixed.
  await page.fill('[data-testid=sandbox-v-0-0]', 'abc');
  await page.waitForSelector('[data-testid=sandbox-invalid]');
  assert.equal(await page.getAttribute('[data-testid=sandbox-v-0-0]', 'aria-invalid'), 'true');
  assertClose(await shown(page, 'sandbox-weights'), bigger.weights, 'the last results stay');
  await page.fill('[data-testid=sandbox-v-0-0]', '0.5');
  await page.waitForSelector('[data-testid=sandbox-invalid]', { state: 'detached' });
  const fixed = await assertIntermediates(page, await settings(page));

  // The address carries the sandbox: the same numbers open from it.
  await page.waitForFunction(() => new URL(location.href).searchParams.get('toy_v')?.startsWith('0.5,'));
  const address = new URL(page.url());
  assert.equal(address.searchParams.get('toy_mask'), 'on');
  assert.equal(address.searchParams.get('toy_q').split(';').length, 5);
  const reopened = await openPage(context, site.origin, address.search);
  await reopened.page.waitForSelector('[data-testid=sandbox-weights]', { timeout: 60_000 });
  assert.deepEqual(await typed(reopened.page), await typed(page));
  assertClose(await shown(reopened.page, 'sandbox-weights'), fixed.weights, 'the linked sandbox');
  // The untouched first example needs no words in the address.
  const fresh = await openPage(context, site.origin, '?model=folder:fixture-gpt2&panel=sandbox');
  await fresh.page.waitForSelector('[data-testid=sandbox-weights] .num', { timeout: 60_000 });
  assert.ok(!new URL(fresh.page.url()).searchParams.has('toy_q'), fresh.page.url());
  assert.deepEqual([...errors, ...reopened.errors, ...fresh.errors], []);
  await context.close();
});

test('the √dₖ demonstration: without the division the softmax saturates as dₖ grows', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&panel=sandbox');
  const largest = (testid) => page.getAttribute(`[data-testid=${testid}]`, 'data-largest').then(Number);
  const setWidth = async (power) => {
    await page.locator('[data-testid=sandbox-scale-width]').fill(String(power));
    await page.waitForFunction((d) => document.querySelector('[data-testid=sandbox-scale-d]').textContent.includes(`= ${d}`), 2 ** power);
    // Both answers for this width and draw.
    await page.waitForFunction(() => ['raw', 'scaled'].every((s) => document.querySelector(`[data-testid=sandbox-scale-${s}]`)?.dataset.largest));
  };
  await page.waitForSelector('[data-testid=sandbox-scale]', { timeout: 60_000 });
  // Three draws at dₖ = 1024.
  await setWidth(10);
  const wide = [];
  for (let draw = 0; draw < 3; draw++) {
    wide.push([await largest('sandbox-scale-raw'), await largest('sandbox-scale-scaled')]);
    const before = await page.getAttribute('[data-testid=sandbox-scale-raw]', 'data-largest');
    await page.click('[data-testid=sandbox-scale-redraw]');
    await page.waitForFunction((b) => {
      const [raw, scaled] = ['raw', 'scaled'].map((s) => document.querySelector(`[data-testid=sandbox-scale-${s}]`)?.dataset.largest);
      return raw && scaled && raw !== b;
    }, before);
  }
  for (const [raw, scaled] of wide) {
    assert.ok(raw > 0.99, `dₖ = 1024 without ÷√dₖ: the largest weight ${raw} is nearly 1`);
    assert.ok(scaled < 0.95, `dₖ = 1024 with ÷√dₖ: the largest weight ${scaled} is not`);
  }
  // At dₖ = 1 the division changes nothing.
  await setWidth(0);
  await page.waitForFunction(() => {
    const [a, b] = ['raw', 'scaled'].map((s) => document.querySelector(`[data-testid=sandbox-scale-${s}]`)?.dataset.largest);
    return a && a === b;
  });
  await page.locator('[data-testid=sandbox-scale]').screenshot({ path: 'test-artifacts/sandbox-scale.png' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('in Chinese on a phone: the sandbox fits and computes', async () => {
  const context = await site.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-distilbert&panel=sandbox&lang=zh');
  await page.waitForSelector('[data-testid=sandbox-weights]', { timeout: 60_000 });
  assert.match(await page.textContent('[data-testid=panel-sandbox] h2'), /沙盒/);
  await page.selectOption('[data-testid=sandbox-tokens]', { value: '5' });
  await page.selectOption('[data-testid=sandbox-width]', { value: '8' });
  await assertIntermediates(page, await settings(page));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
  await page.screenshot({ path: 'test-artifacts/sandbox-zh-390.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
