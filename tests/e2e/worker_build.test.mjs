// The app starts the worker build this browser can run: the threaded one (a pool of threads,
// threads/) where the page is cross-origin isolated, else the relaxed-SIMD one (fused
// multiply-add matmul kernel) where relaxed SIMD validates, the plain SIMD one where it does not.
// A browser without relaxed SIMD is simulated: Chromium 156 ignores
// --js-flags=--no-experimental-wasm-relaxed-simd, so the page's WebAssembly.validate answers
// false for any module with an f32x4.relaxed_madd (0xfd 0x85 0x02). Both show the trace CLI's
// attention weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { ISOLATED, openPage, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const TEXT = 'The cat sat on the mat because it was warm.';

/** Opens the GPT-2 fixture (with relaxed SIMD hidden from the page if `withoutRelaxedSimd`,
 *  served with `headers`, the threaded worker's files missing if `withoutThreads`); returns
 *  the wasm files the page fetched, the threads the model card names, and the heatmap's layer
 *  1, head 1 row for the last query, read by hovering. */
async function run(withoutRelaxedSimd, headers = {}, withoutThreads = false) {
  const site = await start('dist', headers);
  try {
    // No service worker: its copy of the shell would fetch every build's wasm too.
    const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: 'block' });
    if (withoutRelaxedSimd) {
      await context.addInitScript(() => {
        const validate = WebAssembly.validate;
        WebAssembly.validate = (bytes) => {
          const view = new Uint8Array(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength);
          for (let i = 0; i + 2 < view.length; i++) {
            if (view[i] === 0xfd && view[i + 1] === 0x85 && view[i + 2] === 0x02) return false;
          }
          return validate(bytes);
        };
      });
    }
    if (withoutThreads) await context.route('**/threads/**', (route) => route.fulfill({ status: 404, body: 'not found' }));
    const wasmFiles = [];
    context.on('request', (request) => {
      const file = new URL(request.url()).pathname.split('/').pop();
      if (file.endsWith('.wasm')) wasmFiles.push(file);
    });
    const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2');
    await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
    await page.fill('[data-testid=text]', TEXT);
    const n = traceCli('gpt2', TEXT).input_ids.length;
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=token]').length === count, n);
    await page.click('[data-testid=tab-heatmaps]');
    await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
    await page.locator('[data-testid=heatmap]').scrollIntoViewIfNeeded();
    const geometry = await page.$eval('[data-testid=heatmap]', (canvas) => {
      const [left, top, right, bottom] = canvas.dataset.plot.split(' ').map(Number);
      const box = canvas.getBoundingClientRect();
      return { left, top, right, bottom, x: box.x, y: box.y, scale: box.width / canvas.width };
    });
    const shown = [];
    for (let key = 0; key < n; key++) {
      const { left, top, right, bottom, x, y, scale } = geometry;
      await page.mouse.move(x + (left + ((key + 0.5) * (right - left)) / n) * scale,
                            y + (top + ((n - 0.5) * (bottom - top)) / n) * scale);
      await page.waitForFunction(([q, k]) => {
        const tooltip = document.querySelector('[data-testid=heatmap-tooltip]')?.dataset;
        return tooltip?.query === String(q) && tooltip?.key === String(k);
      }, [n - 1, key]);
      shown.push(Number(await page.getAttribute('[data-testid=heatmap-tooltip]', 'data-value')));
    }
    mkdirSync('test-artifacts', { recursive: true });
    const name = (headers === ISOLATED ? (withoutThreads ? 'isolated-without-threads-' : 'threads-') : '') +
      (withoutRelaxedSimd ? 'plain' : 'relaxed');
    await page.screenshot({ path: `test-artifacts/worker-build-${name}.png` });
    const threads = Number(await page.getAttribute('[data-testid=worker-threads]', 'data-threads'));
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    // The missing threaded worker's files are logged by Chromium as failed loads.
    assert.deepEqual(errors.filter((e) => !(withoutThreads && /404|Failed to load/.test(e))), []);
    return { wasmFiles, shown, n, threads, cores };
  } finally {
    await site.close();
  }
}

const cli = traceCli('gpt2', TEXT);
const expected = cli.attentions[0][0].at(-1);

test('where relaxed SIMD validates (Chromium), the app runs the relaxed-SIMD worker, with the trace CLI\'s numbers', async () => {
  const { wasmFiles, shown } = await run(false);
  assert.ok(wasmFiles.includes('worker_relaxed_bg.wasm'), `fetched ${wasmFiles.join(', ')}`);
  assert.ok(!wasmFiles.includes('worker_bg.wasm'), `fetched ${wasmFiles.join(', ')}`);
  shown.forEach((value, key) => assert.ok(Math.abs(value - expected[key]) <= TOLERANCE, `key ${key}: shown ${value}, CLI ${expected[key]}`));
});

test('where it does not (simulated), the app runs the plain SIMD worker, with the same numbers', async () => {
  const { wasmFiles, shown } = await run(true);
  assert.ok(wasmFiles.includes('worker_bg.wasm'), `fetched ${wasmFiles.join(', ')}`);
  assert.ok(!wasmFiles.includes('worker_relaxed_bg.wasm'), `fetched ${wasmFiles.join(', ')}`);
  shown.forEach((value, key) => assert.ok(Math.abs(value - expected[key]) <= TOLERANCE, `key ${key}: shown ${value}, CLI ${expected[key]}`));
});

test('served cross-origin isolated (scripts/serve.sh), the app runs the threaded relaxed-SIMD worker on the cores, with the same numbers', async () => {
  const { wasmFiles, shown, threads, cores } = await run(false, ISOLATED);
  assert.deepEqual(wasmFiles.filter((file) => file.startsWith('worker')), ['worker_threads_relaxed_bg.wasm']);
  assert.equal(threads, Math.min(cores, 4), 'the model card names the pool\'s threads');
  shown.forEach((value, key) => assert.ok(Math.abs(value - expected[key]) <= TOLERANCE, `key ${key}: shown ${value}, CLI ${expected[key]}`));
});

test('isolated, where relaxed SIMD does not validate (simulated), the app runs the plain threaded worker', async () => {
  const { wasmFiles, shown, threads, cores } = await run(true, ISOLATED);
  assert.deepEqual(wasmFiles.filter((file) => file.startsWith('worker')), ['worker_threads_bg.wasm']);
  assert.equal(threads, Math.min(cores, 4));
  shown.forEach((value, key) => assert.ok(Math.abs(value - expected[key]) <= TOLERANCE, `key ${key}: shown ${value}, CLI ${expected[key]}`));
});

test('isolated, but without the threaded worker\'s files, the app falls back to a single-threaded one', async () => {
  const { wasmFiles, shown, threads } = await run(false, ISOLATED, true);
  assert.ok(wasmFiles.includes('worker_relaxed_bg.wasm'), `fetched ${wasmFiles.join(', ')}`);
  assert.equal(threads, 1);
  shown.forEach((value, key) => assert.ok(Math.abs(value - expected[key]) <= TOLERANCE, `key ${key}: shown ${value}, CLI ${expected[key]}`));
});
