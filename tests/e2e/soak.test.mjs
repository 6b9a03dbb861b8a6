// A class period's worth of use, compressed. The short soak (soak.mjs): a tenth of the long
// one's actions on the fixtures and the offline models, memory measured each hundred actions.
// Rapid input: 50 keystrokes in 2 seconds on a real model (SmolLM2-135M, whose traces take
// longer than a keystroke) never queue more than one trace behind the running one, and the page
// ends on the last text. Each case appends its row to the fault table
// (test-artifacts/faults/e2e.jsonl → tests/FAULTS.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, recordFault, start } from './support.mjs';
import { assertHealthy, hosted, levels, longestText, scaledRun, soak, watchWorkers } from './soak.mjs';
import { mb } from '../../scripts/soak-table.mjs';

const READY = '[data-testid=model-ready]';
let site;

before(async () => { site = await start(); });
after(async () => { await site?.close(); });

/** Appends a row of the fault table. */
function record(fault, seen, name) {
  recordFault({ group: 'Long sessions and offline', fault, seen, test: `tests/e2e/soak.test.mjs: ${name}` });
}

test('rapid input: 50 keystrokes in 2 s queue at most one trace behind the running one; the last text wins', async () => {
  const name = 'rapid input';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(watchWorkers);
  const { page, errors } = await openPage(context, site.origin, '?model=folder:SmolLM2-135M-Instruct&text=Hello');
  await page.waitForSelector(READY, { timeout: 120_000 });
  await page.waitForSelector('[data-testid=token]');
  const box = page.locator('[data-testid=text]');
  await box.fill('');
  const typed = 'The students typed this sentence quickly, as fast!'; // 50 keystrokes
  assert.equal(typed.length, 50);
  // An input event every 35–40 ms, as the box gets them from a keyboard: the page's own timer, so
  // the 2 s hold however busy the test's process is.
  const [started, stopped] = await page.evaluate(async (text) => {
    const input = document.querySelector('[data-testid=text]');
    const began = performance.now();
    for (let i = 1; i <= text.length; i++) {
      input.value = text.slice(0, i);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((next) => setTimeout(next, 35));
    }
    return [began, performance.now()];
  }, typed);
  await page.waitForFunction((text) => window.__soak.traces.at(-1)?.text === text && window.__soak.traces.at(-1).answered !== undefined, typed, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const shown = [...document.querySelectorAll('[data-testid=token]')].map((t) => t.textContent).join('');
    return shown.includes('quickly') && shown.endsWith('fast!');
  });
  assert.equal(await box.inputValue(), typed);

  const traces = (await page.evaluate(() => window.__soak.traces)).filter((t) => t.posted >= started);
  for (let i = 1; i < traces.length; i++) {
    assert.ok(traces[i].posted >= traces[i - 1].answered, `trace ${i} was posted before trace ${i - 1} was answered`);
  }
  // What waits in the queue is only ever the newest text: once typing stops, at most one more
  // trace starts (the last text's), after the one that was running.
  const afterTyping = traces.filter((t) => t.posted > stopped);
  assert.ok(afterTyping.length <= 1, `${afterTyping.length} traces started after the last keystroke`);
  assert.equal(traces.at(-1).text, typed);
  const seconds = ((stopped - started) / 1000).toFixed(1);
  const longest = Math.max(...traces.map((t) => t.answered - t.posted)).toFixed(0);
  record(`50 keystrokes in ${seconds} s (SmolLM2-135M; its traces take up to ${longest} ms here)`,
    `${traces.length} traces ran, one at a time; ${afterTyping.length} started after the last keystroke; the page shows the last text's ${await page.locator('[data-testid=token]').count()} tokens`, name);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a class period, short: a tenth of the long soak\'s actions leave memory level, answer every request, and show what a fresh page shows', async () => {
  const name = 'short soak';
  const others = hosted('dist', ['fixture-distilbert', 'fixture-llama', 'fixture-t5', 'all-MiniLM-L6-v2', 'date-translator']);
  // Checkpoints every 25 actions: a leak of the page's wasm heap shows within the run.
  const run = { ...scaledRun(0.1), compared: 8, checkpointEvery: 25 };
  const result = await soak(site, {
    main: 'fixture-gpt2', others, run, maxChars: (model) => longestText('dist', model, 256),
    log: (c) => console.log(`soak: ${c.actions} actions: worker ${mb(c.worker)} MB, page wasm ${mb(c.app)} MB, in use ${mb(c.live)} MB, JS heap ${mb(c.heap)} MB`),
  });
  const { wasm, heap } = levels(result.checkpoints);
  const last = result.checkpoints.at(-1);
  const equal = result.compared.filter((c) => c.equal).length;
  record(`${result.actions.length} actions in a seeded random order on fixture-gpt2 with ${others.join(', ')}: ${run.traces} traces of random Unicode texts, ${run.switches} model switches, ${run.saliency} saliency, ${run.appended} generated tokens, panels, layers, heads, language, theme`,
    `after ${wasm.actions} and ${last.actions} actions the worker's wasm memory ${mb(wasm.worker)} → ${mb(last.worker)} MB, the page's ${mb(wasm.app)} → ${mb(last.app)} MB; after ${heap.actions} and ${last.actions}, the bytes in use on its wasm heap ${mb(heap.live)} → ${mb(last.live)} MB and its JS heap ${mb(heap.heap)} → ${mb(last.heap)} MB; ${result.posted} requests, all answered; ${equal} of ${result.compared.length} sampled views equal a fresh page's`,
    name);
  assertHealthy(result);
});
