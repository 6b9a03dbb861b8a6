// The service worker's opt-in isolation shim for hosts that cannot send COOP/COEP
// (service-worker-setup.js, service-worker.js; README, "Threads"). Turned on, the page, served
// without the headers, loads twice and is then cross-origin isolated: the threaded worker runs
// with the trace CLI's numbers, and a second tab is isolated at once. Turned off again, the
// service worker stays (for the offline copy) but adds no headers. In an iframe of a page that
// is not isolated the app never reloads and runs on one thread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { THREADS_CSP, hoverMatrix, openPage, setIsolationShim, start, traceCli, untilInPage, withIsolationShim } from './support.mjs';

const TEXT = 'The cat sat on the mat because it was warm.';
const READY = '[data-testid=model-ready]';
const MODEL = '?model=folder:fixture-gpt2';
const VIEWPORT = { viewport: { width: 1280, height: 800 } };

let site, copy;
before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  copy = withIsolationShim();
  // The strict CSP with the pool's blob: workers, and no COOP/COEP: the service worker adds them.
  site = await start(copy, THREADS_CSP);
});
after(async () => {
  await site?.close();
  if (copy) rmSync(copy, { recursive: true });
});

/** A context whose frames count their loads (in the frame's sessionStorage, which a reload keeps). */
async function countingContext() {
  const context = await site.browser.newContext(VIEWPORT);
  await context.addInitScript(() => {
    sessionStorage.setItem('test-loads', String(Number(sessionStorage.getItem('test-loads') ?? 0) + 1));
  });
  return context;
}

/** What a frame (or page) says about itself: loads so far, isolation, the model card's threads,
 *  and whether a service worker is registered for the site. */
const facts = (frame) => frame.evaluate(async () => ({
  loads: Number(sessionStorage.getItem('test-loads')),
  isolated: crossOriginIsolated,
  threads: Number(document.querySelector('[data-testid=worker-threads]')?.dataset.threads),
  serviceWorker: Boolean(await navigator.serviceWorker?.getRegistration()),
}));

/** Waits until `page` is cross-origin isolated, across the reload that makes it so. */
async function untilIsolated(page) {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await page.waitForTimeout(100)) {
    if (await page.evaluate(() => crossOriginIsolated).catch(() => false)) return;
  }
  throw new Error('the page never became cross-origin isolated');
}

/** Traces TEXT in `frame` and waits for its heatmap; returns the token count. */
async function trace(frame) {
  await frame.waitForSelector(READY, { timeout: 60_000 });
  await frame.fill('[data-testid=text]', TEXT);
  const n = traceCli('gpt2', TEXT).input_ids.length;
  await frame.waitForFunction((count) => document.querySelectorAll('[data-testid=token]').length === count, n);
  await frame.click('[data-testid=tab-heatmaps]');
  await frame.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  return n;
}

test('turned on, a host without COOP/COEP gets the threaded worker after one reload, with the CLI\'s numbers', async () => {
  const context = await countingContext();
  const { page, errors } = await openPage(context, site.origin, MODEL);
  await untilIsolated(page);
  const n = await trace(page);
  const expected = traceCli('gpt2', TEXT).attentions[0][0].at(-1);
  for (const key of [0, Math.floor(n / 2), n - 1]) {
    const shown = await hoverMatrix(page, 'heatmap', n - 1, key);
    assert.ok(Math.abs(shown - expected[key]) <= 1e-4, `key ${key}: shown ${shown}, CLI ${expected[key]}`);
  }
  await page.screenshot({ path: 'test-artifacts/isolation-shim-threads.png' });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.deepEqual(await facts(page), { loads: 2, isolated: true, threads: Math.min(cores, 4), serviceWorker: true });

  // A second tab goes through the service worker from the start: isolated, no reload.
  const second = await openPage(context, site.origin, MODEL);
  await second.page.waitForSelector(READY, { timeout: 60_000 });
  assert.deepEqual(await facts(second.page), { loads: 1, isolated: true, threads: Math.min(cores, 4), serviceWorker: true });

  // Turned off again: the next visit (still isolated) removes the service worker; once the
  // site's tabs are closed, the next runs on one thread.
  setIsolationShim(copy, false);
  try {
    const third = await openPage(context, site.origin, MODEL);
    await untilInPage(third.page, async () => {
      const active = (await navigator.serviceWorker.getRegistration())?.active?.scriptURL;
      return active && !active.includes('isolation=on');
    });
    await Promise.all([page, second.page, third.page].map((tab) => tab.close()));
    const fourth = await openPage(context, site.origin, MODEL);
    await trace(fourth.page);
    assert.deepEqual(await facts(fourth.page), { loads: 1, isolated: false, threads: 1, serviceWorker: true });
    assert.deepEqual([...errors, ...second.errors, ...third.errors, ...fourth.errors], []);
  } finally {
    setIsolationShim(copy, true);
  }
  await context.close();
});

test('in an iframe of a page that is not isolated, the app never reloads and runs on one thread', async () => {
  // The course page: another origin, no COOP/COEP, the app in an iframe.
  const course = createServer((_, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><title>Course</title><h1>A course page</h1>
      <iframe src="${site.origin}/${MODEL}" width="1200" height="700"></iframe>`);
  });
  await new Promise((ready) => course.listen(0, '127.0.0.1', ready));
  const courseOrigin = `http://127.0.0.1:${course.address().port}`;
  try {
    const context = await countingContext();
    const embedded = async () => {
      const { page, errors } = await openPage(context, courseOrigin);
      const frame = await (await page.waitForSelector('iframe')).contentFrame();
      await trace(frame);
      return { page, errors, frame };
    };
    // Never visited: the iframe registers the service worker (its offline copy) but never reloads.
    const first = await embedded();
    assert.deepEqual(await facts(first.frame), { loads: 1, isolated: false, threads: 1, serviceWorker: true });
    await first.page.close();

    // Visited on its own first: the service worker serves the iframe too; still one thread, working.
    const visit = await openPage(context, site.origin, MODEL);
    await untilIsolated(visit.page);
    const second = await embedded();
    assert.deepEqual(await facts(second.frame), { loads: 1, isolated: false, threads: 1, serviceWorker: true });
    await second.page.screenshot({ path: 'test-artifacts/isolation-shim-iframe.png' });
    assert.deepEqual([...first.errors, ...visit.errors, ...second.errors], []);
    await context.close();
  } finally {
    course.close();
  }
});
