// End-to-end tests of the release build (dist/) in Debian's Chromium via playwright-core.
// Run by scripts/test.sh after `trunk build --release`; screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve } from '../../scripts/static-server.mjs';
import { openPage as openSitePage, start } from './support.mjs';

const ARTIFACTS = 'test-artifacts';
const READY = '[data-testid=model-ready]';
let site, browser, origin;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  site = await start();
  ({ browser, origin } = site);
});

after(async () => site?.close());

/** A fresh page of the site (Hub unreachable unless `hub` answers), errors recorded. */
function openPage(context, query = '', hub = null, base = origin) {
  return openSitePage(context, base, query, hub);
}

async function screenshot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

test('offline Hub: opens SmolLM2 from models/ with a progress bar and a notice; it predicts offline', async () => {
  const context = await browser.newContext();
  const { page, errors, hubRequests } = await openPage(context);
  await page.waitForSelector('[data-testid=progress]', { timeout: 30_000 });
  await page.waitForSelector(READY, { timeout: 180_000 });
  assert.ok(hubRequests.length > 0, 'the app first tries the Hub');
  assert.match(await page.textContent('[data-testid=notice]'), /cannot be reached.*SmolLM2-135M-Instruct.*predictions, generation and saliency all work offline/s);
  assert.match(await page.textContent('[data-testid=model-card]'), /Llama.*30 layers × 9 heads.*576/s);
  await page.waitForSelector('[data-testid=token]');
  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=candidate]', { timeout: 60_000 });
  await screenshot(page, 'offline-smollm2');
  assert.deepEqual(errors, []);
  await context.close();
});

test('typing shows tokens; hovering and clicking a token sets the shared query token', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:all-MiniLM-L6-v2');
  await page.waitForSelector(READY, { timeout: 120_000 });
  await page.fill('[data-testid=text]', 'Hello world, the cat sat on the mat.');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=token]').length === 12);
  const tokens = await page.$$eval('[data-testid=token]', (chips) => chips.map((c) => c.textContent));
  assert.deepEqual(tokens, ['[CLS]', 'hello', 'world', ',', 'the', 'cat', 'sat', 'on', 'the', 'mat', '.', '[SEP]']);
  await page.hover('[data-testid=token][data-index="5"]');
  await page.waitForFunction(() => document.querySelector('[data-testid=query-token]').textContent.includes('“cat” (position 5)'));
  await page.click('[data-testid=token][data-index="2"]');
  await page.mouse.move(0, 0);
  await page.waitForFunction(() => document.querySelector('[data-testid=query-token]').textContent.includes('“world” (position 2, pinned)'));
  await page.click('text=5. Softmax');
  await page.waitForSelector('[data-testid=step-5]');
  const probabilities = await page.$$eval('.num[data-kind=prob]', (nodes) => nodes.map((n) => Number(n.dataset.value)));
  assert.equal(probabilities.length, 12, 'an encoder query attends to every token');
  assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'the weights sum to 1');
  assert.ok(probabilities.every((p) => p > 0), 'nothing is masked in an encoder');
  // The trace reports the worker's time and the page's time to read the message (-1: none yet).
  const [workerMs, readMs] = await page.$eval('[data-testid=trace-time]', (span) => [Number(span.dataset.ms), Number(span.dataset.readMs)]);
  assert.ok(workerMs > 0 && readMs >= 0, `trace times ${workerMs} and ${readMs} ms`);
  await screenshot(page, 'tokens-and-pinned-query');
  await page.fill('[data-testid=text]', '   ');
  await page.waitForSelector('[data-testid=empty-hint]');
  assert.deepEqual(errors, []);
  await context.close();
});

test('fixture GPT-2 and DistilBERT load from the models/ folder', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2');
  await page.waitForSelector(READY, { timeout: 60_000 });
  assert.equal(await page.textContent(READY), 'GPT-2');
  await page.fill('[data-testid=text]', 'Hello world');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=token]')].some((c) => c.textContent.startsWith('␣')));
  await page.waitForSelector('[data-testid=qkv] tbody tr');
  await screenshot(page, 'fixture-gpt2');

  await page.click('.sources summary');
  await page.selectOption('[data-testid=folder-select]', 'fixture-distilbert');
  await page.click('[data-testid=load-folder]');
  await page.waitForFunction(() => document.querySelector('[data-testid=model-ready]')?.textContent === 'DistilBERT', null, { timeout: 60_000 });
  assert.equal(await page.inputValue('[data-testid=text]'), 'Hello world', 'a typed text survives a model change');
  await page.fill('[data-testid=text]', 'The cat sat on the [MASK].');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=token]')].some((c) => c.textContent === '[MASK]'));
  await screenshot(page, 'fixture-distilbert');
  assert.deepEqual(errors, []);
  await context.close();
});

test('dropping config.json, tokenizer.json and model.safetensors loads them', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2');
  await page.waitForSelector(READY, { timeout: 60_000 });
  const files = ['config.json', 'tokenizer.json', 'model.safetensors'].map((name) => ({
    name, bytes: [...readFileSync(`tests/fixtures/bert_mlm_odd/${name}`)],
  }));
  await page.click('.sources summary');
  const dataTransfer = await page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const { name, bytes } of files) transfer.items.add(new File([new Uint8Array(bytes)], name));
    return transfer;
  }, files);
  await page.dispatchEvent('[data-testid=drop-zone]', 'drop', { dataTransfer });
  await page.waitForFunction(() => document.querySelector('[data-testid=model-ready]')?.textContent === 'BERT', null, { timeout: 60_000 });
  assert.match(await page.textContent('[data-testid=model-card]'), /your files: config\.json, tokenizer\.json, model\.safetensors/);
  await screenshot(page, 'dropped-files');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the second visit reads the model from Cache Storage, not the network', async () => {
  const context = await browser.newContext();
  const first = await openPage(context, '?model=folder:all-MiniLM-L6-v2');
  await first.page.waitForSelector(READY, { timeout: 120_000 });
  await first.page.close();
  const { page, errors } = await openPage(context, '?model=folder:all-MiniLM-L6-v2');
  const downloads = [];
  page.on('request', (request) => { if (request.url().includes('/models/all-MiniLM-L6-v2/')) downloads.push(request.url()); });
  await page.reload();
  await page.waitForSelector(READY, { timeout: 120_000 });
  assert.deepEqual(downloads, [], 'no model file is downloaded twice');
  assert.match(await page.textContent('[data-testid=cache-count]'), /^[1-9]\d* model files kept/);
  assert.deepEqual(errors, []);
  await context.close();
});

/** The Hub's resolve URLs for one repository and revision, answered from a fixture folder. */
function fakeHub(repo, revision, fixture, hang = []) {
  return (url) => {
    const prefix = `https://huggingface.co/${repo}/resolve/${revision}/`;
    if (!url.startsWith(prefix)) return null;
    const file = url.slice(prefix.length);
    if (hang.includes(file)) return 'hang';
    const body = readFileSync(`tests/fixtures/${fixture}/${file}`);
    return { status: 200, body, headers: { 'content-length': String(body.length), 'access-control-allow-origin': '*' } };
  };
}

test('the built site works from a sub-path', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'course-site-'));
  mkdirSync(join(parent, 'course'));
  symlinkSync(resolve('dist'), join(parent, 'course', 'attention'));
  const courseServer = await serve(parent, 0);
  const context = await browser.newContext();
  const base = `http://127.0.0.1:${courseServer.address().port}/course/attention`;
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2', null, base);
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.waitForSelector('[data-testid=token]');
  assert.deepEqual(errors, []);
  await context.close();
  courseServer.close();
});

test('a Hub repository at a revision loads through the Hub URL pattern', async () => {
  const context = await browser.newContext();
  const hub = fakeHub('attention-explorer/tiny-gpt2', 'v1', 'gpt2_hub_odd_f16');
  const { page, errors, hubRequests } = await openPage(context, '?model=hub:attention-explorer/tiny-gpt2@v1', hub);
  await page.waitForSelector(READY, { timeout: 60_000 });
  assert.match(await page.textContent('[data-testid=model-card]'), /GPT-2 · 3 layers × 3 heads · d_model 15.*Hugging Face Hub: attention-explorer\/tiny-gpt2 @ v1/s);
  const resolved = hubRequests.filter((u) => u.includes('/resolve/'));
  assert.deepEqual(resolved.map((u) => u.split('/').pop()), ['config.json', 'tokenizer.json', 'model.safetensors']);
  // No SHA-256 in the answers' headers: each file's Git LFS pointer is asked for (here unanswered).
  assert.deepEqual(hubRequests.filter((u) => u.includes('/raw/')).length, 3);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a download can be cancelled and says so', async () => {
  const context = await browser.newContext();
  const hub = fakeHub('attention-explorer/slow', 'main', 'gpt2', ['model.safetensors']);
  const { page, errors } = await openPage(context, '?model=hub:attention-explorer/slow', hub);
  await page.waitForSelector('[data-testid=cancel-download]', { timeout: 30_000 });
  await page.click('[data-testid=cancel-download]');
  await page.waitForSelector('[data-testid=load-failed]');
  assert.match(await page.textContent('[data-testid=load-failed]'), /cancelled/);
  const cached = await page.evaluate(async () => (await (await caches.open('attention-explorer-models-v1')).keys()).map((r) => r.url.split('/').pop()));
  assert.deepEqual(cached.sort(), ['config.json', 'tokenizer.json'], 'the cancelled weights are never cached');
  assert.deepEqual(errors, []);
  await context.close();
});

test('too long a text is cut to the model positions with a notice; fast typing ends on the last text', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2');
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.fill('[data-testid=text]', 'the cat sat on the mat '.repeat(20));
  await page.waitForSelector('[data-testid=truncated]');
  assert.match(await page.textContent('[data-testid=truncated]'), /reads at most 64/);
  assert.equal(await page.$$eval('[data-testid=token]', (chips) => chips.length), 64);
  for (let i = 1; i <= 20; i++) await page.fill('[data-testid=text]', `the cat ${'sat '.repeat(i)}`);
  await page.waitForFunction(() => !document.querySelector('.busy'));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=token]').length > 20
    && !document.querySelector('[data-testid=truncated]'));
  const text = await page.$$eval('[data-testid=token]', (chips) => chips.map((c) => c.textContent).join(''));
  assert.equal(text.replaceAll('␣', ' '), `the cat ${'sat '.repeat(20)}`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the cache control lists cached files and clears them', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2');
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.click('.sources summary');
  await page.click('text=Refresh');
  await page.waitForFunction(() => /^3 model files/.test(document.querySelector('[data-testid=cache-count]').textContent));
  await page.click('[data-testid=clear-cache]');
  await page.waitForFunction(() => /^0 model files/.test(document.querySelector('[data-testid=cache-count]').textContent));
  await screenshot(page, 'cache-control');
  assert.deepEqual(errors, []);
  await context.close();
});

test('when the worker dies the page says so, restarts it and reloads the model', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openPage(context, '?model=folder:fixture-gpt2');
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.waitForSelector('[data-testid=token]');
  const [worker] = page.workers();
  // An uncaught exception inside the worker, as a crash would raise.
  await worker.evaluate(() => setTimeout(() => { throw new Error('simulated crash'); }, 0));
  await page.waitForSelector('[data-testid=error]');
  assert.match(await page.textContent('[data-testid=error]'), /model worker stopped.*simulated crash.*restarted/s);
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.fill('[data-testid=text]', 'Hello again');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=token]').length > 3);
  await screenshot(page, 'worker-restarted');
  assert.deepEqual(errors.filter((e) => !e.includes('simulated crash')), []);
  await context.close();
});
