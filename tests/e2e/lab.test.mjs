// The lab changes the model and every number follows: switched-off heads give the trace CLI's
// `--ablate` predictions (and the as-trained ones beside them), a link without the causal mask
// gives the CLI's `--no-causal-mask` attention, and the padding demo gives `--pad-to` with and
// without the key padding mask; the banner says the lab is on and switches it off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { download, openPage, softmax, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const TEXT = 'Hello world, the cat sat on the mat.';
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

async function openModel(model, query = '', viewport = { width: 1200, height: 900 }) {
  const context = await site.browser.newContext({ viewport, acceptDownloads: true });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-${model}&text=${encodeURIComponent(TEXT)}${query}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  return { ...opened, context };
}

/** The heatmap's CSV as numbers [query][key] (the last `n` fields of each row). */
async function heatmapRows(page, n) {
  const csv = (await download(page, 'heatmap-export-csv')).bytes.toString().trim().split(/\r?\n/);
  return csv.slice(1).map((line) => line.split(',').slice(-n).map(Number));
}

test('switching heads off gives the CLI\'s --ablate predictions, beside the model as trained', async () => {
  const trained = traceCli('gpt2', TEXT);
  const ablated = traceCli('gpt2', TEXT, ['--ablate', '1:2,2:3']);
  const last = trained.input_ids.length - 1;
  const before = softmax(trained.logits[last]);
  const afterP = softmax(ablated.logits[last]);
  const { page, errors, context } = await openModel('gpt2', '&panel=lab');
  await page.waitForSelector('[data-testid=head-switch]');
  await page.click('[data-testid=head-switch][data-layer="0"][data-head="1"]');
  await page.click('[data-testid=head-switch][data-layer="1"][data-head="2"]');
  await page.waitForSelector('[data-testid=lab-banner]');
  assert.match(await page.textContent('[data-testid=lab-banner]'), /heads 1:2, 2:3 switched off/);
  await page.waitForSelector('[data-testid=lab-compared][data-after]');
  const rows = await page.$$eval('[data-testid=lab-compared]', (nodes) => nodes.map((n) => ({
    id: Number(n.dataset.tokenId), before: Number(n.dataset.before), after: n.dataset.after === undefined ? null : Number(n.dataset.after),
  })));
  const trainedTop = before.map((p, id) => ({ id, p })).sort((a, b) => b.p - a.p).slice(0, 5);
  assert.deepEqual(rows.map((r) => r.id), trainedTop.map((t) => t.id), 'the trained top 5');
  rows.forEach((r) => {
    assert.ok(Math.abs(r.before - before[r.id]) <= TOLERANCE, `as trained, token ${r.id}`);
    if (r.after !== null) assert.ok(Math.abs(r.after - afterP[r.id]) <= TOLERANCE, `with the lab, token ${r.id}: ${r.after} vs ${afterP[r.id]}`);
  });
  assert.ok(rows.some((r) => r.after !== null && Math.abs(r.after - r.before) > 1e-3), 'switching two heads off changes something');
  await page.screenshot({ path: 'test-artifacts/lab-heads.png', fullPage: true });

  // Every tab is the changed model's: the predictions panel shows the --ablate probabilities.
  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=candidate]');
  const shown = await page.$$eval('[data-testid=candidate]', (nodes) => nodes.map((n) => [Number(n.dataset.tokenId), Number(n.dataset.probability)]));
  shown.forEach(([id, p]) => assert.ok(Math.abs(p - afterP[id]) <= TOLERANCE, `predictions panel, token ${id}`));
  assert.ok(await page.$('[data-testid=lab-banner]'), 'the banner stays on every tab');
  // The predictions tab shows the trained top 5 before and after, as bars.
  await page.waitForFunction(() => /\d\.\d{3}/.test(document.querySelector('[data-testid=lab-bars-changed]')?.getAttribute('aria-label') ?? ''));
  // A candidate that left the lab's top 10 has no bar after.
  const stayed = trainedTop.filter((t) => rows.find((r) => r.id === t.id).after !== null);
  for (const [testid, probabilities, shown] of [['lab-bars-trained', before, trainedTop], ['lab-bars-changed', afterP, stayed]]) {
    const values = (await download(page, `${testid}-csv`)).bytes.toString().trim().split(/\r?\n/).slice(1)
      .map((line) => Number(line.match(/,([^,]+)$/)[1]));
    assert.equal(values.length, shown.length, testid);
    values.forEach((v, i) => assert.ok(Math.abs(v - probabilities[shown[i].id]) <= TOLERANCE, `${testid} bar ${i}: ${v}`));
  }
  await page.locator('[data-testid=lab-before-after]').screenshot({ path: 'test-artifacts/lab-predictions-before-after.png' });
  // The address carries the lab; the banner's button switches it off.
  await page.waitForFunction(() => new URL(location.href).searchParams.get('ablate') === '1:2,2:3');
  await page.click('[data-testid=lab-reset]');
  await page.waitForFunction(() => !document.querySelector('[data-testid=lab-banner]'));
  await page.waitForFunction((p) => Math.abs(Number(document.querySelector('[data-testid=candidate]')?.dataset.probability) - p) < 1e-4,
    trainedTop[0].p);
  assert.equal(new URL(page.url()).searchParams.get('ablate'), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a link without the causal mask: every row spreads over the future, as the CLI\'s --no-causal-mask', async () => {
  const cli = traceCli('gpt2', TEXT, ['--no-causal-mask']);
  const { page, errors, context } = await openModel('gpt2', '&panel=heatmaps&causal_mask=off&layer=2&head=3');
  await page.waitForSelector('[data-testid=lab-banner]');
  assert.match(await page.textContent('[data-testid=lab-banner]'), /causal mask removed/);
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  const n = cli.input_ids.length;
  const grid = await heatmapRows(page, n);
  const expected = cli.attentions[1][2];
  assert.equal(grid.length, n);
  grid.forEach((row, q) => row.forEach((w, k) => assert.ok(Math.abs(w - expected[q][k]) <= TOLERANCE, `(${q}, ${k})`)));
  assert.ok(grid[0].slice(1).reduce((a, b) => a + b, 0) > 0.1, 'the first token attends to later ones');
  await page.screenshot({ path: 'test-artifacts/lab-no-causal-mask.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the padding demo: [PAD] hidden by the mask, then visible, as the CLI\'s --pad-to', async () => {
  const plain = traceCli('distilbert', TEXT);
  const n = plain.input_ids.length;
  const masked = traceCli('distilbert', TEXT, ['--pad-to', String(n + 4)]);
  const visible = traceCli('distilbert', TEXT, ['--pad-to', String(n + 4), '--no-padding-mask']);
  const { page, errors, context } = await openModel('distilbert', '&panel=lab&layer=1&head=1');
  await page.waitForSelector('[data-testid=lab-pad]');
  await page.check('[data-testid=lab-pad]');
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid=token]').length === count, n + 4);
  assert.match(await page.textContent('[data-testid=lab-banner]'), new RegExp(`padded to ${n + 4} tokens, the padding hidden`));
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  let grid = await heatmapRows(page, n + 4);
  grid.forEach((row, q) => row.forEach((w, k) => assert.ok(Math.abs(w - masked.attentions[0][0][q][k]) <= TOLERANCE, `masked (${q}, ${k})`)));
  assert.ok(grid.every((row) => row.slice(n).every((w) => w === 0)), 'no query attends to [PAD]');
  // The padding columns are masked cells, as the causal mask's are.
  const { hoverMatrix } = await import('./support.mjs');
  await hoverMatrix(page, 'heatmap', 0, n + 1);
  assert.equal(await page.getAttribute('[data-testid=heatmap-tooltip]', 'data-kind'), 'masked');
  await page.click('[data-testid=tab-lab]');
  // Side by side in the lab: both masks' rows, and how far each token's state moves.
  await page.waitForSelector('[data-testid=padding-visible][data-plot*=" "]');
  for (const [testid, cli] of [['padding-masked', masked], ['padding-visible', visible]]) {
    const csv = (await download(page, `${testid}-csv`)).bytes.toString().trim().split(/\r?\n/);
    const rows = csv.slice(1).map((line) => line.split(',').slice(-(n + 4)).map(Number));
    rows.forEach((row, q) => row.forEach((w, k) => assert.ok(Math.abs(w - cli.attentions[0][0][q][k]) <= TOLERANCE, `${testid} (${q}, ${k})`)));
  }
  const last = masked.hidden_states.length - 1;
  const distances = masked.hidden_states[last].map((h, t) => Math.hypot(...h.map((x, i) => x - visible.hidden_states[last][t][i])));
  await page.waitForFunction(() => /\d\.\d{3}/.test(document.querySelector('[data-testid=padding-moved]')?.getAttribute('aria-label') ?? ''));
  const moved = (await download(page, 'padding-moved-csv')).bytes.toString().trim().split(/\r?\n/).slice(1)
    .map((line) => Number(line.match(/,([^,]+)$/)[1]));
  assert.equal(moved.length, n + 4);
  moved.forEach((d, t) => assert.ok(Math.abs(d - distances[t]) <= 1e-3, `token ${t} moved ${d} vs ${distances[t]}`));
  assert.ok(moved.slice(0, n).some((d) => d > 1e-3), 'the text itself changes without the mask');
  await page.locator('[data-testid=lab-padding]').screenshot({ path: 'test-artifacts/lab-padding-side-by-side.png' });
  await page.check('[data-testid=lab-padding-visible]');
  await page.waitForFunction(() => /padding visible/.test(document.querySelector('[data-testid=lab-banner]')?.textContent ?? ''));
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('padding_mask') === 'off');
  grid = await heatmapRows(page, n + 4);
  grid.forEach((row, q) => row.forEach((w, k) => assert.ok(Math.abs(w - visible.attentions[0][0][q][k]) <= TOLERANCE, `visible (${q}, ${k})`)));
  assert.ok(grid[0].slice(n).reduce((a, b) => a + b, 0) > 0.01, 'attention leaks into the padding');
  await page.screenshot({ path: 'test-artifacts/lab-padding-visible.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the importance map shows its progress, equals the CLI\'s --importance, and a click switches that head off', async () => {
  const cli = traceCli('gpt2', TEXT, ['--importance']).head_importance;
  const { page, errors, context } = await openModel('gpt2', '&panel=lab');
  // Every text the "measuring" line shows while the worker runs one pass per head.
  await page.evaluate(() => {
    window.measuringSeen = [];
    new MutationObserver(() => {
      const line = document.querySelector('[data-testid=lab-measuring]');
      if (line) window.measuringSeen.push(line.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.click('[data-testid=lab-measure]');
  await page.waitForSelector('[data-testid=lab-importance-map][data-shape="2 4"]');
  const seen = await page.evaluate(() => window.measuringSeen);
  const counts = seen.map((text) => text.match(/(\d+) of (\d+) heads/)).filter(Boolean).map((m) => [Number(m[1]), Number(m[2])]);
  assert.ok(counts.length > 0, `no count of heads measured was shown: ${JSON.stringify(seen)}`);
  counts.forEach(([done, total], i) => {
    assert.equal(total, 8, 'one pass per head of 2 layers × 4');
    assert.ok(done >= 1 && done <= total && (i === 0 || done >= counts[i - 1][0]), `counts ${JSON.stringify(counts)}`);
  });
  const csv = (await download(page, 'lab-importance-map-csv')).bytes.toString().trim().split(/\r?\n/);
  const drops = csv.slice(1).map((line) => line.split(',').slice(1).map(Number));
  assert.equal(drops.length, cli.drops.length);
  drops.forEach((row, l) => row.forEach((d, h) => assert.ok(Math.abs(d - cli.drops[l][h]) <= TOLERANCE, `drop ${l}:${h}: ${d} vs ${cli.drops[l][h]}`)));
  assert.match(await page.textContent('[data-testid=lab-importance]'), new RegExp(`position ${cli.position}`));
  // The head that matters most, clicked on the map, is switched off.
  const flat = cli.drops.flat();
  const most = flat.indexOf(Math.max(...flat));
  const [layer, head] = [Math.floor(most / 4), most % 4];
  const { hoverMatrix } = await import('./support.mjs');
  await hoverMatrix(page, 'lab-importance-map', layer, head);
  await page.mouse.down();
  await page.mouse.up();
  await page.waitForSelector(`[data-testid=head-switch][data-layer="${layer}"][data-head="${head}"][aria-pressed=true]`);
  await page.waitForSelector('[data-testid=lab-banner]');
  await page.waitForSelector('[data-testid=lab-importance-stale]');
  assert.ok(await page.$('[data-testid=lab-importance-map]'), 'the map stays, marked as measured before the change');
  await page.locator('[data-testid=lab-importance]').screenshot({ path: 'test-artifacts/lab-importance.png' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the lab in Chinese and at phone width', async () => {
  const second = encodeURIComponent('Hello world, the dog sat on the mat.');
  const { page, errors, context } = await openModel('gpt2', `&panel=lab&lang=zh&ablate=2:1&text2=${second}&induction_seed=0&head_stat=previous`, { width: 390, height: 844 });
  await page.waitForSelector('[data-testid=lab-banner]');
  // Every part of the lab drawn: the head summary, the detector, the comparison.
  await page.waitForSelector('[data-testid=head-summary-map][data-plot*=" "]');
  await page.waitForSelector('[data-testid=induction-map][data-plot*=" "]');
  await page.waitForSelector('[data-testid=compare-second][data-plot*=" "]');
  assert.match(await page.textContent('[data-testid=lab-induction] h3'), /寻找归纳头/);
  assert.match(await page.textContent('[data-testid=lab-compare] h3'), /两个句子并排比较/);
  assert.match(await page.textContent('[data-testid=lab-banner]'), /已关闭注意力头 2:1/);
  assert.match(await page.textContent('[data-testid=panel-lab] h2'), /实验室/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling: ${overflow}px`);
  await page.screenshot({ path: 'test-artifacts/lab-zh-390.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
