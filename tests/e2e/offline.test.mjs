// Offline after the first visit (public/service-worker.js, its shell written by
// scripts/service-worker-shell.mjs): a visit, then with the site unreachable a reload opens the
// page and the cached model traces with the CLI's numbers; a new deployment runs on the next
// online visit and replaces the offline copy whole. The site goes offline by stopping its server
// (connections refused, as with no network): Playwright's setOffline makes the page offline too,
// but leaves the service worker's own update check hanging in Chromium, so that no later update
// would ever run in that browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hoverMatrix, openPage, recordFault, start, traceCli, untilInPage } from './support.mjs';
import { serve } from '../../scripts/static-server.mjs';

const READY = '[data-testid=model-ready]';
const TEXT = 'The cat sat on the mat.';
const SHELL = 'attention-explorer-shell-';
/** The files a deployment changes here; the rest of dist/ is linked. */
const CHANGED = ['index.html', 'service-worker.js'];

/** A copy of dist/ to deploy to: CHANGED copied, everything else linked. */
function deployment() {
  const copy = mkdtempSync(join(tmpdir(), 'ae-offline-'));
  for (const entry of readdirSync('dist')) {
    if (CHANGED.includes(entry)) copyFileSync(join('dist', entry), join(copy, entry));
    else symlinkSync(resolve('dist', entry), join(copy, entry));
  }
  return copy;
}

/** The shell caches in `page`'s origin, once the service worker is active (its copy complete). */
const shellCaches = (page) => page.evaluate(async (prefix) => {
  await navigator.serviceWorker.ready;
  return (await caches.keys()).filter((name) => name.startsWith(prefix));
}, SHELL);

/** Waits for TEXT's tokens and checks the last query's weights in layer 0, head 0 against the CLI. */
async function tracedLikeTheCli(page) {
  const expected = traceCli('gpt2', TEXT);
  const n = expected.input_ids.length;
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid=token]').length === count, n, { timeout: 60_000 });
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  const shown = await hoverMatrix(page, 'heatmap', n - 1, 0);
  assert.ok(Math.abs(shown - expected.attentions[0][0][n - 1][0]) <= 1e-4, `shown ${shown}`);
}

test('after one visit the page and its cached model open offline; a new deployment replaces the copy', async () => {
  mkdirSync('test-artifacts', { recursive: true });
  const copy = deployment();
  const site = await start(copy);
  let server = site.server;
  const port = server.address().port;
  const offline = async () => {
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  };
  const online = async () => { server = await serve(copy, port); };
  try {
    const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    await tracedLikeTheCli(page);
    const [first] = await shellCaches(page);
    assert.ok(first, 'the service worker keeps a copy of the shell');

    await offline();
    await page.reload();
    await page.waitForSelector(READY, { timeout: 60_000 });
    await tracedLikeTheCli(page);
    await page.click('details.sources > summary');
    const available = await page.textContent('[data-testid=offline-models]');
    assert.match(available, /Available offline: .*fixture-gpt2/);
    await page.screenshot({ path: 'test-artifacts/offline-reload.png' });
    const test = 'tests/e2e/offline.test.mjs: offline and a new deployment';
    recordFault({ group: 'Long sessions and offline', test, fault: 'the site unreachable after a first visit (its server stopped), then a reload',
      seen: `the page opens from the service worker's copy; GPT-2 (fixture) loads from the cache and traces with the CLI's numbers; the picker says "${available.trim()}"` });

    // A new deployment: another page and so another shell version.
    const html = readFileSync(join(copy, 'index.html'), 'utf8');
    writeFileSync(join(copy, 'index.html'), html.replace('<title>Attention Explorer</title>', '<title>Attention Explorer, deployed again</title>'));
    execFileSync('node', ['scripts/service-worker-shell.mjs', copy]);
    await online();
    await page.reload();
    await page.waitForSelector(READY, { timeout: 60_000 });
    assert.equal(await page.title(), 'Attention Explorer, deployed again', 'online, the new deployment runs at once');
    await untilInPage(page, async ([prefix, old]) => {
      const names = (await caches.keys()).filter((name) => name.startsWith(prefix));
      return names.length === 1 && names[0] !== old;
    }, [SHELL, first]);

    await offline();
    await page.reload();
    await page.waitForSelector(READY, { timeout: 60_000 });
    assert.equal(await page.title(), 'Attention Explorer, deployed again', 'offline, the new copy');
    await tracedLikeTheCli(page);
    recordFault({ group: 'Long sessions and offline', test, fault: 'a new deployment while an offline copy is kept',
      seen: 'online, the new page runs at once; the offline copy is replaced whole (one shell cache, the new one), and offline the new page opens' });
    assert.deepEqual(errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to fetch|Failed to load/.test(e)), []);
    await context.close();
  } finally {
    await site.browser.close();
    if (server.listening) server.close();
    rmSync(copy, { recursive: true });
  }
});
