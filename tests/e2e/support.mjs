// Shared by the browser tests and the measurement command: serve dist/, launch Debian's
// Chromium, open pages with the Hub simulated (unreachable unless a handler answers) and every
// console error, page error and dialog recorded.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { ISOLATION_HEADERS, serve } from '../../scripts/static-server.mjs';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
  '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/** The README's strict Content-Security-Policy with what the pool's workers add (blob: workers). */
export const THREADS_CSP = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
    "connect-src 'self' https://huggingface.co https://*.hf.co; worker-src 'self' blob:",
};

/** Cross-origin isolated, as scripts/serve.sh serves the site, under THREADS_CSP. */
export const ISOLATED = { ...ISOLATION_HEADERS, ...THREADS_CSP };

/** Serves dist/ (with `headers` on every response) and launches Chromium (with `extraArgs`
 *  after the usual flags); returns { server, origin, browser, close }. */
export async function start(root = 'dist', headers = {}, extraArgs = []) {
  const server = await serve(root, 0, headers);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
                                          args: [...CHROMIUM_ARGS, ...extraArgs] });
  return {
    server,
    browser,
    origin: `http://127.0.0.1:${server.address().port}`,
    close: async () => { await browser.close(); server.close(); },
  };
}

/** Appends a row of the fault table (test-artifacts/faults/e2e.jsonl; scripts/faults.sh turns
 *  the rows into tests/FAULTS.md): a fault, what the user saw (and on the Chinese page), the test. */
export function recordFault({ group, fault, seen, seenZh, test }) {
  const squeeze = (text) => text?.replace(/\s+/g, ' ').trim();
  mkdirSync('test-artifacts/faults', { recursive: true });
  appendFileSync('test-artifacts/faults/e2e.jsonl',
    JSON.stringify({ group, fault, seen: squeeze(seen), seen_zh: squeeze(seenZh), test }) + '\n');
}

/** The script that registers the service worker; its ISOLATION_SHIM_ON line turns the shim on. */
const SETUP = 'service-worker-setup.js';

/** A copy of `root` (its entries linked, not copied) with the service worker's isolation shim
 *  turned on, as a host turns it on (README, "Threads"); returns the copy's folder. */
export function withIsolationShim(root = 'dist') {
  const copy = mkdtempSync(join(tmpdir(), 'ae-shim-'));
  for (const entry of readdirSync(root)) {
    if (entry !== SETUP) symlinkSync(resolve(root, entry), join(copy, entry));
  }
  setIsolationShim(copy, true, root);
  return copy;
}

/** Turns the isolation shim of `copy`'s service-worker-setup.js on or off (from `root`'s, off). */
export function setIsolationShim(copy, on, root = 'dist') {
  const off = readFileSync(join(root, SETUP), 'utf8');
  const script = off.replace(/^const ISOLATION_SHIM_ON = false;$/m, `const ISOLATION_SHIM_ON = ${on};`);
  assert.ok(script !== off || !on, `${root}/${SETUP}: no "const ISOLATION_SHIM_ON = false;" line`);
  writeFileSync(join(copy, SETUP), script);
}

/** A page at `${base}/${query}` with the Hub unreachable — or answered by `hub(url)`, which
 *  returns a route.fulfill() argument, 'hang' (never answers) or null (unreachable). */
export async function openPage(context, base, query = '', hub = null) {
  const page = await context.newPage();
  const errors = [];
  const hubRequests = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // The simulated-offline Hub's refused requests are logged by Chromium itself; anything else counts.
    if (message.type() === 'error' && !message.location().url.startsWith('https://huggingface.co/')) {
      errors.push(`console: ${message.text()}`);
    }
  });
  page.on('dialog', (dialog) => { errors.push(`dialog: ${dialog.message()}`); dialog.dismiss(); });
  await page.route('https://huggingface.co/**', (route) => {
    hubRequests.push(route.request().url());
    const action = hub?.(route.request().url());
    if (action === 'hang') return undefined;
    if (action) return route.fulfill(action);
    return route.abort('internetdisconnected');
  });
  await page.goto(`${base}/${query}`);
  return { page, errors, hubRequests };
}

/** The trace CLI's JSON for a fixture model (`tests/fixtures/${model}`) and text: the numbers the
 *  page must show. `cargo test` builds the CLI (target/debug/trace). */
export function traceCli(model, text, extra = []) {
  const binary = ['target/debug/trace', 'target/release/trace'].find(existsSync);
  if (!binary) throw new Error('build the trace CLI first (cargo test builds target/debug/trace)');
  return JSON.parse(execFileSync(binary, ['--model', `tests/fixtures/${model}`, '--text', text, '--out', '-', ...extra], { maxBuffer: 1 << 28 }));
}

/** Hovers cell (row, column) of a matrix canvas (a `data-shape` "rows columns" chart, or an
 *  attention heatmap's `data-positions`) and
 *  returns its tooltip's value; an attention heatmap's tooltip names the cell by query and key. */
export async function hoverMatrix(page, testid, row, column) {
  const canvas = page.locator(`[data-testid=${testid}]`);
  await canvas.scrollIntoViewIfNeeded();
  const { plot, shape, box } = await canvas.evaluate((node) => {
    const rect = node.getBoundingClientRect();
    // An attention heatmap is square over its shown positions.
    const side = node.dataset.positions?.split(',').length;
    const shape = node.dataset.shape ? node.dataset.shape.split(' ').map(Number) : [side, side];
    return { plot: node.dataset.plot.split(' ').map(Number), shape, box: { x: rect.x, y: rect.y, scale: rect.width / node.width } };
  });
  const [left, top, right, bottom] = plot;
  const [rows, columns] = shape;
  await page.mouse.move(
    box.x + (left + ((column + 0.5) * (right - left)) / columns) * box.scale,
    box.y + (top + ((row + 0.5) * (bottom - top)) / rows) * box.scale,
  );
  const tooltip = await page.waitForSelector(`[data-testid=${testid}-tooltip]`);
  const data = await tooltip.evaluate((node) => ({ ...node.dataset }));
  const cell = [Number(data.row ?? data.query), Number(data.column ?? data.key)];
  assert.deepEqual(cell, [row, column], `${testid}: the hovered cell`);
  return Number(data.value);
}

/** Waits until `predicate(arg)`, evaluated in `page` (it may be async: Playwright's
 *  waitForFunction would take its promise for a truthy answer), is truthy. */
export async function untilInPage(page, predicate, arg, timeout = 60_000) {
  for (const deadline = Date.now() + timeout; ; await page.waitForTimeout(200)) {
    if (await page.evaluate(predicate, arg)) return;
    if (Date.now() > deadline) throw new Error(`not so after ${timeout} ms: ${predicate}`);
  }
}

export async function waitShape(page, testid, shape) {
  await page.waitForFunction(([t, s]) => document.querySelector(`[data-testid=${t}]`)?.dataset.shape === s, [testid, shape]);
}

/** Clicks a download button and returns the saved file's name and bytes (under
 *  test-artifacts/downloads). Headless Chromium drops an occasional download after about twenty
 *  from one page (the same click again starts it; a desktop browser asks "allow multiple
 *  downloads?" instead), so up to three clicks are made and any retry is printed. */
export async function download(page, testid) {
  const button = page.locator(`[data-testid=${testid}]`);
  await button.scrollIntoViewIfNeeded();
  for (let attempt = 1; ; attempt++) {
    try {
      const [file] = await Promise.all([page.waitForEvent('download', { timeout: 5_000 }), button.click()]);
      mkdirSync('test-artifacts/downloads', { recursive: true });
      const path = `test-artifacts/downloads/${file.suggestedFilename()}`;
      await file.saveAs(path);
      if (attempt > 1) console.log(`${testid}: download started on click ${attempt}`);
      return { name: file.suggestedFilename(), bytes: readFileSync(path) };
    } catch (error) {
      if (attempt === 3) throw new Error(`no download from ${testid} after 3 clicks: ${error.message}`);
    }
  }
}

/** softmax(row / temperature), in f64. */
export function softmax(row, temperature = 1) {
  const top = Math.max(...row);
  const exps = row.map((x) => Math.exp((x - top) / temperature));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** A token as a sentence shows it: without its space markers. */
export const plain = (token) => token.replace(/^[␣Ġ▁\s]+|[␣Ġ▁\s]+$/g, '');
