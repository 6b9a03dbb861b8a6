// "Measure this computer" (measure.html): a teacher's way to report how a real laptop runs the
// model. Where the page is cross-origin isolated it times the single-threaded worker and the
// threaded build at 1 thread and on the app's pool, and checks that every build's trace is
// bitwise the single-threaded one's; where it is not, it times one thread and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { ISOLATED, openPage, start } from './support.mjs';

/** Opens measure.html served with `headers` and `query`, presses Measure and returns the
 *  table's rows, the report and the page's own texts. */
async function measure(headers, query, screenshot) {
  const site = await start('dist', headers);
  try {
    const context = await site.browser.newContext({ viewport: { width: 1100, height: 900 } });
    const { page, errors } = await openPage(context, site.origin, `measure.html?${query}`);
    await page.waitForSelector('[data-testid=measure-start]:not([disabled])');
    await page.click('[data-testid=measure-start]');
    await page.waitForSelector('[data-testid=measure-status][data-state=done], [data-testid=measure-status][data-state=failed]',
                                { timeout: 180_000 });
    assert.equal(await page.getAttribute('[data-testid=measure-status]', 'data-state'), 'done',
                 await page.textContent('[data-testid=measure-status]'));
    const rows = await page.$$eval('[data-testid=measure-results] tbody tr', (trs) => trs.map((tr) => ({
      ...tr.dataset, cells: [...tr.cells].map((td) => td.textContent) })));
    const report = JSON.parse(await page.inputValue('[data-testid=measure-report]'));
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const heading = await page.textContent('h1');
    const note = await page.isVisible('[data-testid=measure-note]') ? await page.textContent('[data-testid=measure-note]') : '';
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: `test-artifacts/measure-${screenshot}.png`, fullPage: true });
    assert.deepEqual(errors, []);
    return { rows, report, cores, note, heading };
  } finally {
    await site.close();
  }
}

// SmolLM2 (real weights, d_model 576, 9 heads): its products are cut into blocks of W's rows
// and its attention into blocks of heads, so the pool computes them side by side.
test('isolated: one thread, the threaded build on 1 thread and on the pool, all bitwise the same numbers', async () => {
  const { rows, report, cores, note } = await measure(ISOLATED, 'model=SmolLM2-135M-Instruct&lengths=8,20&runs=2', 'isolated');
  const pool = Math.min(cores, 4);
  const workers = ['worker_relaxed', 'threads:1', `threads:${pool}`];
  assert.deepEqual(rows.map((r) => r.worker), [...workers, ...workers]);
  assert.ok(rows.every((r) => r.same === 'true'), JSON.stringify(rows));
  assert.ok(rows.every((r) => Number(r.ms) > 0));
  // Every worker traced the same tokens, more for the longer text.
  const [short, long] = [rows[0].tokens, rows[3].tokens].map(Number);
  assert.ok(short >= 8 && long > short, `${short}, ${long} tokens`);
  assert.deepEqual(rows.map((r) => Number(r.tokens)), [short, short, short, long, long, long]);
  assert.equal(report.hardwareConcurrency, cores);
  assert.equal(report.crossOriginIsolated, true);
  assert.equal(report.model, 'SmolLM2-135M-Instruct');
  assert.equal(note, '');
  assert.deepEqual(report.results.map((r) => r.runsMs.length), [2, 2, 2, 2, 2, 2]);
  assert.deepEqual(report.results.map((r) => r.medianMs), rows.map((r) => Number(r.ms)));
});

test('not isolated, in Chinese: one thread only, and the page says why', async () => {
  const { rows, report, note, heading } = await measure({}, 'model=fixture-gpt2&lengths=8,20&runs=2&lang=zh', 'single-zh');
  assert.equal(heading, '测量这台电脑');
  assert.match(note, /未跨源隔离/);
  assert.deepEqual(rows.map((r) => r.worker), ['worker_relaxed', 'worker_relaxed']);
  assert.ok(rows.every((r) => r.same === 'true'));
  assert.equal(report.crossOriginIsolated, false);
});
