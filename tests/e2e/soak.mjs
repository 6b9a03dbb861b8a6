// The soak: one page, a class period's use in a random but seeded order — traces of random
// Unicode texts, every panel, layers and heads, generated tokens, saliency, model switches,
// language and theme — with the worker's wasm memory, the page's wasm memory and its JS heap
// recorded after each hundred actions at one reference view. Shared by the short soak in every
// test run (soak.test.mjs) and the long one (scripts/soak.sh → scripts/soak.mjs).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { openPage, untilInPage } from './support.mjs';

/** The long soak's actions (issue #31); the short one runs a fraction of each. */
export const FULL_RUN = {
  traces: 1000, appended: 200, saliency: 50, switches: 20, panels: 150, layersAndHeads: 150,
  languages: 15, themes: 15, compared: 20,
};

/** `FULL_RUN` times `fraction`, each at least 1. */
export function scaledRun(fraction) {
  return Object.fromEntries(Object.entries(FULL_RUN).map(([k, n]) => [k, Math.max(1, Math.round(n * fraction))]));
}

/** The longest random text for hosted model `name` under `root`, in characters: its positions
 *  (config.json; 64 where it names none, as a GGUF's or T5's), at most `cap` (random Unicode
 *  makes 1 to 4 tokens a character; the longest texts are cut to the positions, or refused where
 *  their attention would not fit the worker's memory). */
export function longestText(root, name, cap) {
  const config = JSON.parse(readFileSync(`${root}/models/${name}/config.json`, 'utf8'));
  return Math.min(config.max_position_embeddings ?? config.n_positions ?? 64, cap);
}

/** The hosted models of `root` among `names`. */
export const hosted = (root, names) => names.filter((name) => existsSync(`${root}/models/${name}/config.json`));

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (random, list) => list[Math.floor(random() * list.length)];

/** Where a random text's characters come from, with weights: mostly words and spaces, then
 *  the scripts and symbols a class types or pastes (accents, Greek, Cyrillic, Chinese, emoji,
 *  combining marks, digits and punctuation). */
const CHARACTER_RANGES = [
  [40, 0x61, 0x7a], [12, 0x20, 0x20], [6, 0x21, 0x40], [8, 0xc0, 0x17f], [5, 0x391, 0x3c9],
  [5, 0x410, 0x44f], [12, 0x4e00, 0x9fff], [4, 0x1f300, 0x1f64f], [2, 0x300, 0x36f], [6, 0x3040, 0x30ff],
];
const RANGE_WEIGHT = CHARACTER_RANGES.reduce((sum, [w]) => sum + w, 0);

/** A random text of `length` characters or, by default, of 1 to `maxChars`, log-uniform (short
 *  texts are the common case, the longest still come). */
export function randomText(random, maxChars, length = Math.max(1, Math.round(Math.exp(random() * Math.log(maxChars))))) {
  let text = '';
  while ([...text].length < length) {
    let draw = random() * RANGE_WEIGHT;
    const [, low, high] = CHARACTER_RANGES.find(([w]) => (draw -= w) < 0) ?? CHARACTER_RANGES[0];
    text += String.fromCodePoint(low + Math.floor(random() * (high - low + 1)));
  }
  return text.trim() || 'a';
}

/** The actions of a run, shuffled with `random`. */
function planActions(random, run) {
  const kinds = { trace: run.traces, panel: run.panels, layerOrHead: run.layersAndHeads, saliency: run.saliency,
    switchModel: run.switches, language: run.languages, theme: run.themes,
    // Generated tokens come 5 at a time.
    generate: Math.ceil(run.appended / 5) };
  const actions = Object.entries(kinds).flatMap(([kind, n]) => Array(n).fill(kind));
  for (let i = actions.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [actions[i], actions[j]] = [actions[j], actions[i]];
  }
  return actions;
}

/** In the page, before the app: counts every request posted to a worker and its answer, keeps
 *  the worker's last reported wasm memory, and the app's wasm exports (for its memory). */
export function watchWorkers() {
  // `traces`: every trace asked for, with its text and when it was posted and answered.
  const soak = { outstanding: new Map(), posted: 0, answered: 0, workerMemory: 0, lastEvent: 0, problems: [], largest: {}, traces: [] };
  window.__soak = soak;
  addEventListener('TrunkApplicationStarted', (event) => { soak.app = event.detail.wasm; });
  const post = Worker.prototype.postMessage;
  const watched = new WeakSet();
  Worker.prototype.postMessage = function (message, ...rest) {
    if (!watched.has(this)) {
      watched.add(this);
      this.addEventListener('message', ({ data }) => {
        soak.lastEvent = performance.now();
        if (data?.kind === 'answer' && soak.outstanding.delete(data.id)) {
          soak.answered++;
          const trace = soak.traces.find((t) => t.id === data.id);
          if (trace) trace.answered = performance.now();
          soak.workerMemory = data.wasm_memory_bytes;
          // The largest trace and saliency of each model so far, in tokens: memory may grow
          // until they stop growing.
          const { response } = data;
          const tokens = response?.trace?.input_ids?.length ?? response?.saliency?.scores?.length;
          const key = `${new URLSearchParams(location.search).get('model')} ${response?.kind}`;
          if (tokens > (soak.largest[key] ?? 0)) soak.largest[key] = tokens;
        } else if (data?.kind === 'panic' || data?.kind === 'unreadable') {
          soak.problems.push(JSON.stringify(data).slice(0, 300));
        }
      });
    }
    if (message?.request?.kind === 'trace') {
      soak.traces.push({ id: message.id, text: message.request.text, posted: performance.now() });
    }
    if (message?.request?.kind) {
      soak.outstanding.set(message.id, message.request.kind);
      soak.posted++;
      soak.lastEvent = performance.now();
    }
    return post.call(this, message, ...rest);
  };
}

/** Until nothing is posted, running or arriving for 150 ms (the page posts as it reacts, in
 *  the same task), then two frames for the page to draw. */
async function settle(page, timeout = 180_000) {
  await untilInPage(page, () => window.__soak.outstanding.size === 0 &&
    performance.now() - Math.max(window.__soak.lastEvent, window.__soak.lastAction ?? 0) > 150, null, timeout);
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
}

/** What a student sees of the view: the panel's text and every chart's pixels (hashed), the
 *  tokens, the text, language and theme. Without what a link does not carry: timings, the
 *  generated tokens' history, memory. */
function viewOnScreen() {
  const hash = (text) => { let h = 2166136261; for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619); return (h >>> 0).toString(16); };
  const panel = document.querySelector('[role=tabpanel]');
  const copy = panel?.cloneNode(true);
  copy?.querySelectorAll('[data-testid=trace-time], [data-testid=generated], [data-testid=timeline], [data-testid=timeline-saliency]')
    .forEach((node) => node.remove());
  // The factors' summary says how long they took: kept are what they explain.
  copy?.querySelectorAll('[data-testid=nmf-summary]')
    .forEach((node) => { node.textContent = `factors ${node.dataset.factors}, error ${node.dataset.error}`; });
  return {
    panel: panel?.dataset.testid,
    text: document.querySelector('[data-testid=text]')?.value,
    tokens: [...document.querySelectorAll('[data-testid=token]')].map((t) => t.textContent),
    lang: document.documentElement.lang,
    theme: document.documentElement.dataset.theme,
    panelText: copy?.textContent.replace(/\s+/g, ' ').trim(),
    charts: [...(panel?.querySelectorAll('canvas') ?? [])].map((c) => `${c.dataset.testid}:${hash(c.toDataURL())}`),
    error: document.querySelector('[role=alert]')?.textContent.trim(),
  };
}

/** Opens `query` in a fresh page of `context`, waits for its view, and returns what it shows. */
async function freshView(context, origin, query) {
  const { page, errors } = await openPage(context, origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 120_000 });
  await page.waitForFunction(() => window.__soak);
  await settle(page);
  const view = await page.evaluate(viewOnScreen);
  await page.close();
  return { view, errors };
}

/** The actions, as the page's controls do them; each returns a short description. */
function actionsOf(page, random, models, maxChars) {
  const mark = () => page.evaluate(() => { window.__soak.lastAction = performance.now(); });
  const choose = async (testid) => {
    const values = await page.$$eval(`[data-testid=${testid}] option`, (options) => options.map((o) => o.value));
    const value = pick(random, values);
    await page.selectOption(`[data-testid=${testid}]`, value);
    return value;
  };
  const setCount = async (count) => {
    await page.fill('[data-testid=generate-count]', String(count));
    await page.$eval('[data-testid=generate-count]', (input) => input.dispatchEvent(new Event('change', { bubbles: true })));
  };
  const openTab = async (id) => {
    const tab = page.locator(`[data-testid=tab-${id}]`);
    if (await tab.count() === 0) return false;
    await tab.click();
    return true;
  };
  return {
    trace: async (model) => {
      const text = randomText(random, maxChars(model));
      await page.fill('[data-testid=text]', text);
      return `trace ${[...text].length} characters`;
    },
    panel: async () => {
      const tabs = await page.$$eval('[role=tab]', (nodes) => nodes.map((n) => n.dataset.testid));
      const tab = pick(random, tabs);
      await page.click(`[data-testid=${tab}]`);
      return tab;
    },
    layerOrHead: async () => {
      const which = random() < 0.5 ? 'layer' : 'head';
      if (await page.locator(`[data-testid=${which}]`).count() === 0) return `${which}: none here`;
      return `${which} ${await choose(which)}`;
    },
    saliency: async () => {
      if (!(await openTab('saliency'))) return 'saliency: not offered';
      await settle(page);
      const targets = page.locator('[data-testid=saliency-target]');
      const n = await targets.count();
      if (n === 0) return 'saliency: no target';
      const i = Math.floor(random() * n);
      await targets.nth(i).dispatchEvent('click');
      return `saliency of target ${i}`;
    },
    generate: async () => {
      if (!(await openTab('predictions')) || await page.locator('[data-testid=generate]').count() === 0) {
        return 'generate: not offered';
      }
      // The count is the panel's own setting, which no link carries: set back after.
      const count = await page.inputValue('[data-testid=generate-count]');
      await setCount(5);
      await page.locator('[data-testid=generate]').dispatchEvent('click');
      await mark();
      await page.waitForSelector('[data-testid=generate]', { timeout: 180_000 });
      await setCount(count);
      return 'generate 5 tokens';
    },
    switchModel: async (model) => {
      const next = pick(random, models.filter((m) => m !== model));
      await switchTo(page, next);
      return `model ${next}`;
    },
    language: async () => `language ${await choose('language')}`,
    theme: async () => { await page.click('[data-testid=theme-toggle]'); return 'theme'; },
  };
}

/** Loads the hosted model `name` with the picker and waits for it. */
async function switchTo(page, name) {
  if (!(await page.isVisible('[data-testid=folder-select]'))) await page.click('.sources summary');
  await page.selectOption('[data-testid=folder-select]', name);
  await page.click('[data-testid=load-folder]');
  await page.waitForFunction((model) => new URLSearchParams(location.search).get('model') === `folder:${model}`
    && document.querySelector('[data-testid=model-ready]'), name, { timeout: 180_000 });
  await settle(page);
}

/** The reference view the memory is measured at: the main model, heatmaps, a fixed text, after
 *  a garbage collection. Returns { worker, app, heap } in bytes. */
async function measureAtReference(page, cdp, main) {
  const model = await page.evaluate(() => new URLSearchParams(location.search).get('model'));
  if (model !== `folder:${main}`) await switchTo(page, main);
  await page.fill('[data-testid=text]', 'The students measured the memory of the page.');
  await page.click('[data-testid=tab-heatmaps]');
  await settle(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const [worker, app, live, largest] = await page.evaluate(() => [window.__soak.workerMemory,
    window.__soak.app.memory.buffer.byteLength, window.wasmBindings.heapBytesInUse(),
    JSON.stringify(Object.entries(window.__soak.largest).sort())]);
  return { worker, app, live, heap: usedSize, largest };
}

/**
 * Runs a soak on `site` (support.mjs `start()`): `main` is the model the page opens with and
 * measures at, `others` the models it switches to; `run` counts the actions (FULL_RUN or
 * scaledRun, and `checkpointEvery`: measure after that many actions, 100 if not given);
 * `maxChars(model)` is the longest random text for a model. `log` gets a line per checkpoint.
 * Returns { checkpoints, actions, compared, errors, unanswered, problems }.
 */
export async function soak(site, { main, others, run, seed = 31, maxChars, log = () => {} }) {
  const random = seeded(seed);
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(watchWorkers);
  const { page, errors } = await openPage(context, site.origin, `?model=folder:${main}&text=Hello&panel=heatmaps`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
  await settle(page);
  const cdp = await context.newCDPSession(page);
  const models = [main, ...others];
  const actions = planActions(random, run);
  const act = actionsOf(page, random, models, maxChars);

  // Warm-up: every model once, with its longest text traced and its saliency asked for, so the
  // worker's memory has held the largest work of the run.
  for (const model of [...others, main]) {
    await switchTo(page, model);
    await page.fill('[data-testid=text]', randomText(random, 0, maxChars(model)));
    await settle(page);
    await act.saliency(model);
    await settle(page);
  }
  const checkpoints = [{ actions: 0, ...(await measureAtReference(page, cdp, main)) }];
  log(checkpoints[0]);

  const compareAt = new Set(Array.from({ length: run.compared }, (_, i) => Math.floor(((i + 0.5) * actions.length) / run.compared)));
  const compared = [];
  const done = [];
  for (const [i, kind] of actions.entries()) {
    const model = await page.evaluate(() => new URLSearchParams(location.search).get('model').replace(/^folder:/, ''));
    const what = await act[kind](model);
    // Where the last click left the pointer, a redrawn token would be hovered: a view no link
    // carries. A student's pointer moves on.
    await page.mouse.move(0, 0);
    await page.evaluate(() => { window.__soak.lastAction = performance.now(); });
    await settle(page);
    done.push(what);
    if (compareAt.has(i)) {
      const here = await page.evaluate(viewOnScreen);
      const query = await page.evaluate(() => location.search);
      const fresh = await freshView(context, site.origin, query);
      compared.push({ action: i + 1, what, query, equal: JSON.stringify(here) === JSON.stringify(fresh.view), here, fresh: fresh.view });
      errors.push(...fresh.errors);
    }
    if ((i + 1) % (run.checkpointEvery ?? 100) === 0 || i + 1 === actions.length) {
      checkpoints.push({ actions: i + 1, ...(await measureAtReference(page, cdp, main)) });
      log(checkpoints.at(-1));
    }
  }
  const { unanswered, problems, posted } = await page.evaluate(() => ({
    unanswered: [...window.__soak.outstanding.values()], problems: window.__soak.problems, posted: window.__soak.posted,
  }));
  await context.close();
  return { checkpoints, actions: done, compared, errors, unanswered, problems, posted };
}

/** The checkpoints the verdicts compare the last one with: for wasm memory (which cannot shrink,
 *  and grows with the largest work), the first after which no model traced or explained a longer
 *  text; for the JS heap and the bytes the page's wasm heap holds, the one half-way (the first
 *  visits to each panel and model fill the page's caches). */
export function levels(checkpoints) {
  const last = checkpoints.at(-1);
  return {
    wasm: checkpoints.find((c) => c.largest === last.largest),
    heap: checkpoints[Math.floor((checkpoints.length - 1) / 2)],
  };
}

/** The fields of a sampled view (`viewOnScreen`) in which it differs from the fresh page's. */
export function differingFields(compared) {
  return Object.keys(compared.here).filter((k) => JSON.stringify(compared.here[k]) !== JSON.stringify(compared.fresh[k]));
}

/** The soak's verdicts, as assertions: the worker's and the page's wasm memory stop growing
 *  (the last checkpoint ≤ 10 % above their level, see `levels`), the JS heap and the bytes in use
 *  on the page's wasm heap have no trend (within 10 % of their level, or 1 MB and 256 KB), no
 *  error, every request answered, and every sampled view equal to a fresh page's. */
export function assertHealthy(result) {
  const last = result.checkpoints.at(-1);
  const { wasm, heap } = levels(result.checkpoints);
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
  const at = (c) => `after ${c.actions} actions`;
  assert.ok(last.worker <= wasm.worker * 1.1, `worker memory grew from ${mb(wasm.worker)} ${at(wasm)} to ${mb(last.worker)}`);
  assert.ok(last.app <= wasm.app * 1.1, `the page's wasm memory grew from ${mb(wasm.app)} ${at(wasm)} to ${mb(last.app)}`);
  assert.ok(last.heap <= Math.max(heap.heap * 1.1, heap.heap + 2 ** 20), `the JS heap grew from ${mb(heap.heap)} ${at(heap)} to ${mb(last.heap)}`);
  assert.ok(last.live <= Math.max(heap.live * 1.1, heap.live + 2 ** 18), `the page's wasm heap in use grew from ${mb(heap.live)} ${at(heap)} to ${mb(last.live)}`);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.problems, []);
  assert.deepEqual(result.unanswered, []);
  for (const c of result.compared) {
    const differing = differingFields(c);
    const link = new URLSearchParams(c.query);
    assert.deepEqual(c.here, c.fresh, `after action ${c.action} (${c.what}), ${link.get('model')} on ${link.get('panel')}: `
      + `${differing.join(', ')} differ from a fresh page's`);
  }
}
