// The fault table's browser half: bad text, script payloads in the box and in every link
// parameter, damaged and wrong model files, network failures, a worker crash, a strict
// Content-Security-Policy, and hosts where threads cannot run. Each case checks what the user sees and appends its row to
// test-artifacts/faults/e2e.jsonl (scripts/faults.sh turns the rows into tests/FAULTS.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openPage, recordFault, start, withIsolationShim } from './support.mjs';
import { ISOLATION_HEADERS } from '../../scripts/static-server.mjs';

const READY = '[data-testid=model-ready]';
const GPT2 = (file) => readFileSync(`tests/fixtures/gpt2/${file}`);
let site, special;

/** Appends a row of the fault table. */
function record(group, fault, seen, name, seenZh) {
  recordFault({ group, fault, seen, seenZh, test: `tests/e2e/faults.test.mjs: ${name}` });
}

/** English phrases (two ASCII words in a row) outside `code` and a library's detail in （…）. */
const englishPhrases = (chinese) => chinese.replace(/`[^`]*`|（[^）]*）/g, '|')
  .match(/[A-Za-z][\w.'/-]* +(?=[A-Za-z.])/g) ?? [];

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
/** The GPT-2 fixture's weights with one bit flipped near the end, inside a tensor: the file is
 *  complete and loads, with one number wrong. */
const FLIPPED = (() => {
  const bytes = Buffer.from(GPT2('model.safetensors'));
  bytes[bytes.length - 3] ^= 0x01;
  return bytes;
})();
/** Which weights models/swap serves (0: the fixture's, 1: FLIPPED) and lists in the index: a
 *  new deployment of a model file. */
let swapVersion = 0;

/** A server in front of dist/ whose models/drop, models/slow and models/cutfile misbehave,
 *  whose models/flipped serves FLIPPED while its index lists the fixture's digests, and whose
 *  models/swap serves the weights of `swapVersion`. */
async function specialServer(staticServer) {
  const staticHandler = staticServer.listeners('request')[0];
  const weights = GPT2('model.safetensors');
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (path === '/models/index.json') {
      const index = JSON.parse(readFileSync('dist/models/index.json', 'utf8'));
      const swapped = [weights, FLIPPED][swapVersion];
      index.flipped = index['fixture-gpt2'];
      index.swap = { ...index['fixture-gpt2'], 'model.safetensors': { size: swapped.length, sha256: sha256(swapped) } };
      response.writeHead(200, { 'Content-Type': 'application/json' });
      return response.end(JSON.stringify(index));
    }
    const listed = path.match(/\/models\/(flipped|swap)\/model\.safetensors$/);
    if (listed) {
      const body = listed[1] === 'flipped' ? FLIPPED : [weights, FLIPPED][swapVersion];
      response.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' });
      return response.end(body);
    }
    if (/\/models\/(flipped|swap)\//.test(path)) {
      const body = GPT2(path.split('/').pop());
      response.writeHead(200, { 'Content-Length': body.length });
      return response.end(body);
    }
    if (path.startsWith('/nocors/')) {
      // A file served without Access-Control-Allow-Origin: a cross-origin fetch must fail.
      const body = GPT2(path.split('/').pop());
      response.writeHead(200, { 'Content-Length': body.length });
      return response.end(body);
    }
    const match = path.match(/\/models\/(drop|slow|cutfile)\/(.+)$/);
    if (!match) return staticHandler(request, response);
    const [, kind, file] = match;
    const body = file === 'model.safetensors' ? weights : GPT2(file);
    if (file !== 'model.safetensors') {
      response.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' });
      return response.end(body);
    }
    if (kind === 'cutfile') {
      // A complete download of a damaged file: 60 % of the weights, Content-Length to match.
      const cut = weights.subarray(0, Math.floor(weights.length * 0.6));
      response.writeHead(200, { 'Content-Length': cut.length });
      return response.end(cut);
    }
    response.writeHead(200, { 'Content-Length': weights.length, 'Content-Type': 'application/octet-stream' });
    if (kind === 'drop') {
      // The connection breaks after 40 % of the promised bytes.
      response.write(weights.subarray(0, Math.floor(weights.length * 0.4)));
      setTimeout(() => response.socket.destroy(), 200);
      return undefined;
    }
    // Slow: 2 kB every 100 ms (about 8 s for the 150 kB fixture).
    let sent = 0;
    const timer = setInterval(() => {
      if (response.destroyed) return clearInterval(timer);
      const chunk = weights.subarray(sent, sent + 2048);
      sent += chunk.length;
      if (sent >= weights.length) { clearInterval(timer); response.end(chunk); } else response.write(chunk);
    }, 100);
    request.on('close', () => clearInterval(timer));
    return undefined;
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  return server;
}

before(async () => {
  site = await start();
  special = await specialServer(site.server);
});
after(async () => { special?.close(); await site?.close(); });

async function openGpt2(query = '', options = {}) {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-gpt2${query}`);
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  return { ...opened, context };
}

/** The text of an element without its buttons (a banner's "×", "Try again"). */
const visible = (page, selector) => page.$eval(selector, (n) => {
  const copy = n.cloneNode(true);
  copy.querySelectorAll('button').forEach((b) => b.remove());
  return copy.textContent.trim();
});
const tokenCount = (page) => page.$$eval('[data-testid=token]', (n) => n.length);

test('text: empty, spaces, 10 000 characters, exactly the maximum, and unusual characters', async () => {
  const name = 'text faults';
  const { page, errors, context } = await openGpt2();
  for (const [fault, text] of [['empty text', ''], ['only whitespace', '   \n\t  ']]) {
    await page.fill('[data-testid=text]', text);
    await page.waitForSelector('[data-testid=empty-hint]');
    assert.equal(await tokenCount(page), 0);
    record('Text and URL input', fault, `${await visible(page, '[data-testid=empty-hint]')} (no tokens, no error)`, name);
  }
  await page.fill('[data-testid=text]', 'the cat sat on the mat '.repeat(435).slice(0, 10_000));
  await page.waitForSelector('[data-testid=truncated]');
  assert.equal(await tokenCount(page), 64);
  record('Text and URL input', '10 000 characters', `${await visible(page, '[data-testid=truncated]')} (64 token chips)`, name);

  // Exactly 64 tokens: the longest prefix of a long text that is not truncated.
  const long = 'the cat sat on the mat because it was warm and the dog slept '.repeat(10);
  let [low, high] = [1, long.length];
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    await page.fill('[data-testid=text]', long.slice(0, middle));
    await page.waitForFunction(() => !document.querySelector('.busy') && document.querySelectorAll('[data-testid=token]').length > 0);
    const truncated = await page.$('[data-testid=truncated]');
    if (truncated) high = middle - 1; else low = middle;
  }
  await page.fill('[data-testid=text]', long.slice(0, low));
  await page.waitForFunction(() => !document.querySelector('.busy') && document.querySelectorAll('[data-testid=token]').length === 64);
  assert.equal(await page.$('[data-testid=truncated]'), null, 'exactly 64 tokens is not truncated');
  await page.waitForSelector('[data-testid=step-header]');
  record('Text and URL input', 'exactly the maximum number of positions (64)', '64 token chips, no notice, the step-through traces all of them', name);

  const unusual = {
    emoji: 'The 🐈 sat on the 🧶 👍🏽',
    CJK: '猫坐在垫子上。注意力机制',
    'right-to-left (Arabic, Hebrew)': 'القط جلس على الحصيرة שלום',
    'zero-width characters': 'the\u200bcat\u200c sat\u200d on\ufeff the mat',
    'combining characters': 'cafe\u0301 na\u0308ive Z\u0351\u0308\u0327a\u0336lgo',
    'control characters': 'the\u0001cat\u0007 sat\u001b[31m on\u0000 the mat',
  };
  for (const [fault, text] of Object.entries(unusual)) {
    await page.fill('[data-testid=text]', text);
    await page.waitForFunction(() => !document.querySelector('.busy') && document.querySelectorAll('[data-testid=token]').length > 0);
    await page.waitForSelector('[data-testid=step-header]');
    assert.equal(await page.$('[data-testid=error]'), null, `${fault}: an error banner`);
    const chips = await tokenCount(page);
    record('Text and URL input', fault, `${chips} token chips, traced; no error`, name);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('text: a masked LM without [MASK], and with 20 masks', async () => {
  const name = 'mask faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-distilbert&panel=predictions');
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.fill('[data-testid=text]', 'the cat sat on the mat');
  await page.waitForSelector('[data-testid=error]');
  const message = await visible(page, '[data-testid=error]');
  assert.match(message, /\[MASK\]/);
  record('Text and URL input', 'masked LM, no [MASK] in the text', message, name);
  await page.click('[data-testid=error] .dismiss');
  await page.fill('[data-testid=text]', Array.from({ length: 20 }, () => 'the [MASK]').join(' '));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=mask-fill]').length === 20, null, { timeout: 30_000 });
  record('Text and URL input', 'masked LM, 20 masks', '20 fill lists, one per [MASK], each as a completed sentence', name);
  assert.deepEqual(errors.filter((e) => !/MASK/.test(e)), []);
  // The Chinese page words the engine's error itself: no English sentence left.
  const zh = await openPage(context, site.origin, '?model=folder:fixture-distilbert&panel=predictions&lang=zh');
  await zh.page.waitForSelector(READY, { timeout: 60_000 });
  await zh.page.fill('[data-testid=text]', 'the cat sat on the mat');
  await zh.page.waitForSelector('[data-testid=error]');
  const chinese = await visible(zh.page, '[data-testid=error]');
  assert.match(chinese, /输入中必须包含掩码词元 \[MASK\]/);
  assert.doesNotMatch(chinese, /Input must include/);
  await zh.page.screenshot({ path: 'test-artifacts/zh-error-no-mask.png' });
  record('Text and URL input', 'masked LM, no [MASK] in the text (Chinese page)', chinese, name);
  await context.close();
});

test('rankings: more watched words than the grid shows, in English and Chinese; the grid stays', async () => {
  const name = 'watched words';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (const [lang, pattern] of [['en', /9 watched tokens are too many: the rankings watch at most 8/], ['zh', /要观察的词元太多（9 个）：排名图最多观察 8 个/]]) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&panel=rankings&lang=${lang}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.fill('[data-testid=text]', 'The cat sat on the mat.');
    await page.fill('[data-testid=rankings-watch]', 'the, cat');
    await page.press('[data-testid=rankings-watch]', 'Enter');
    await page.waitForSelector('[data-testid=rankings-watched][data-ranks]');
    const before = await page.getAttribute('[data-testid=rankings-watched]', 'data-ranks');
    await page.fill('[data-testid=rankings-watch]', 'a, b, c, d, e, f, g, h, i');
    await page.press('[data-testid=rankings-watch]', 'Enter');
    const message = await visible(page, '[data-testid=rankings-watch-error]');
    assert.match(message, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message), [], message);
    assert.equal(await page.getAttribute('[data-testid=rankings-watched]', 'data-ranks'), before, 'the last watched words stay');
    if (lang === 'en') record('Text and URL input', 'rankings: 9 watched words (at most 8)', `${message} (the last accepted words stay watched)`, name);
    else record('Text and URL input', 'rankings: 9 watched words (Chinese page)', message, name);
    assert.deepEqual(errors, []);
  }
  await context.close();
});

test('lab: a head the model does not have, padding a decoder, a text longer than its padding', async () => {
  const name = 'lab faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const text = encodeURIComponent('The cat sat on the mat.');
  const cases = [
    ['en', 'gpt2', 'ablate=3:1', /there is no head 3:1 to switch off: this model has 2 layers of 4 heads/, 'lab: a link switching off a head the model does not have (3:1 of 2 layers)'],
    ['zh', 'gpt2', 'ablate=3:1', /没有可关闭的注意力头 3:1：这个模型有 2 层，每层 4 个头/, 'lab: a head the model does not have (Chinese page)'],
    ['en', 'gpt2', 'pad_to=30', /the padding demo needs an encoder such as BERT or DistilBERT: GPT-2 reads one text left to right/, 'lab: padding asked of a decoder (GPT-2)'],
    ['en', 'distilbert', 'pad_to=5', /the text already has \d+ tokens: pad it to more than that, not to 5/, 'lab: padding to fewer tokens than the text has'],
  ];
  for (const [lang, model, lab, pattern, fault] of cases) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-${model}&text=${text}&lang=${lang}&${lab}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.waitForSelector('[data-testid=error]');
    const message = await visible(page, '[data-testid=error]');
    assert.match(message, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message), [], message);
    // The banner's way back: the model as trained traces the text.
    await page.click('[data-testid=lab-reset]');
    await page.waitForSelector('[data-testid=step-header]');
    record('Text and URL input', fault, `${message} (the lab banner's "Back to the model as trained" traces the text)`, name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  await context.close();
});

test('lab: mask and padding settings in a link to an encoder–decoder (T5) are named, not run', async () => {
  const name = 'lab faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const pair = `source=${encodeURIComponent('The cat sat on the mat.')}&target=${encodeURIComponent('Die Katze')}`;
  const cases = [
    ['en', 'pad_to=30', /T5 is an encoder–decoder: the lab switches its heads off, but the mask and padding demonstrations need a model that reads one text/,
      'lab: a padding demo asked of an encoder–decoder (T5, pad_to=30)'],
    ['zh', 'causal_mask=off', /T5 是编码器–解码器：实验室可以关闭它的注意力头，但掩码和填充演示需要只读取一段文本的模型/,
      'lab: the causal mask switched off on an encoder–decoder (Chinese page)'],
  ];
  for (const [lang, lab, pattern, fault] of cases) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-t5&${pair}&lang=${lang}&${lab}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    const message = await visible(page, '[data-testid=lab-not-run]');
    assert.match(message, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message.replace(/^T5/, '')), [], message);
    // The translation is traced as trained; the banner's button drops the settings.
    await page.waitForSelector('[data-testid=pair-heatmap][data-plot*=" "]');
    assert.equal(await page.$('[data-testid=error]'), null);
    await page.click('[data-testid=lab-reset]');
    await page.waitForSelector('[data-testid=lab-banner]', { state: 'detached' });
    record('Text and URL input', fault, `${message} (the translation is traced with its masks; "Back to the model as trained" drops the settings)`, name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  await context.close();
});

test('lesson files: hostile Markdown, no steps, missing, on another site, impossible numbers', async () => {
  const name = 'lesson faults';
  const group = 'Lesson files';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Script tags, event handlers, javascript: and data: links, raw HTML: shown as text.
  {
    const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&lesson=lessons/test/hostile.md');
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.waitForSelector('[data-testid=lesson-step-title]');
    const card = '[data-testid=lesson-card]';
    assert.equal(await page.$$eval(`${card} script, ${card} img, ${card} iframe, ${card} svg, ${card} b`, (n) => n.length), 0, 'no element from the file');
    const hrefs = await page.$$eval(`${card} a`, (links) => links.map((a) => a.getAttribute('href')));
    assert.deepEqual(hrefs, ['https://example.com/'], 'only the https link keeps its target');
    const shown = await page.textContent(card);
    assert.match(shown, /<script>window.__pwned = 1<\/script>/);
    assert.match(shown, /<img src=x onerror="window.__pwned=1">/);
    assert.equal(await page.textContent('[data-testid=lesson-step-title]'), '<b onmouseover="window.__pwned=1">Step</b>');
    await page.hover('[data-testid=lesson-step-title]');
    await page.waitForSelector('.notice');
    assert.match(await visible(page, '.notice'), /highlight=<script>/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    record(group, 'a hostile lesson file (script tags, event handlers, raw HTML, javascript: and data: links, a script as a step\'s text)',
      'the Markdown is shown as text, no element from the file is created, only the https link keeps its target; the unknown highlight is named in a notice; no script runs', name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  const cases = [
    ['en', 'lesson=lessons/test/no-steps.md', '[data-testid=lesson-error]', /This lesson could not be opened: it has no steps: each step starts with a line beginning with “## ”/, 'a lesson file with no steps'],
    ['zh', 'lesson=lessons/test/no-steps.md', '[data-testid=lesson-error]', /无法打开这节课：它没有任何步骤/, 'a lesson file with no steps (Chinese page)'],
    ['en', 'lesson=lessons/test/gone.md', '[data-testid=lesson-error]', /This lesson could not be opened: there is no file lessons\/test\/gone.md on this site: check the lesson’s path in the link/, 'a lesson file that is not there (404)'],
    ['en', 'lesson=https://evil.example/a.md', '.notice', /Ignored from the link \(not understood or out of range\): lesson=https:\/\/evil.example\/a.md/, 'a lesson on another site (lesson=https://…)'],
  ];
  for (const [lang, query, selector, pattern, fault] of cases) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&lang=${lang}&${query}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.waitForSelector(selector);
    const message = await visible(page, selector);
    assert.match(message, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message), [], message);
    // The page works on: the text is traced.
    await page.waitForSelector('[data-testid=step-header]');
    record(group, fault, `${message} (the page traces the text as usual)`, name);
    assert.deepEqual(errors.filter((e) => !/404/.test(e)), []);
    await page.close();
  }
  // Placeholders that cannot be filled: "—" and a notice under the step.
  for (const lang of ['en', 'zh']) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&lang=${lang}&lesson=lessons/test/numbers.md&lesson_step=3`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=lesson-value]')]
      .every((n) => n.dataset.state === 'missing'), null, { timeout: 30_000 });
    const message = await visible(page, '[data-testid=lesson-missing]');
    if (lang === 'zh') assert.deepEqual(englishPhrases(message.replace(/\{loudness\}|“ zzzzq”|“zebra”/g, '')), [], message);
    const dashes = await page.$$eval('[data-testid=lesson-value]', (n) => n.map((x) => x.textContent));
    assert.deepEqual(dashes, ['—', '—', '—']);
    if (lang === 'en') record(group, 'a lesson\'s placeholders that cannot be filled (an unknown name, a word not in the text, a token not predicted)', `each shows “—”; under the step: ${message}`, name);
    else record(group, 'placeholders that cannot be filled (Chinese page)', message, name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  await context.close();
});

test('lesson questions and steps: an unknown kind, a word not in the text, a layer the model lacks', async () => {
  const name = 'question faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const seen = { unknown: {}, missing: {} };
  for (const lang of ['en', 'zh']) {
    const open = (step) => openPage(context, site.origin, `?model=folder:fixture-gpt2&lang=${lang}&lesson=lessons/test/questions.md&lesson_step=${step}`);
    {
      const { page, errors } = await open(1);
      await page.waitForSelector('[data-testid=lesson-step-title]', { timeout: 60_000 });
      await page.waitForSelector('.notice');
      seen.unknown[lang] = await visible(page, '.notice');
      assert.match(seen.unknown[lang], /ask=why/);
      assert.equal(await page.$$eval('[data-testid=question]', (n) => n.length), 0, 'no question is asked');
      assert.deepEqual(errors, []);
      await page.close();
    }
    const { page, errors } = await open(2);
    await page.waitForSelector('[data-testid=question-cannot]', { timeout: 60_000 });
    seen.missing[lang] = await visible(page, '[data-testid=question-cannot]');
    assert.match(seen.missing[lang], /zebra/);
    if (lang === 'zh') assert.deepEqual(englishPhrases(seen.missing[lang].replace(/“zebra”/, '')), [], seen.missing[lang]);
    assert.equal(await page.$$eval('[data-testid=question-choice]', (n) => n.length), 0);
    // The page works on: the step-through shows the text's numbers.
    await page.waitForSelector('[data-testid=step-header]');
    assert.deepEqual(errors, []);
    await page.close();
  }
  // A step's layer, head and token that the model and the text do not have.
  for (const lang of ['en', 'zh']) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&lang=${lang}&lesson=lessons/test/questions.md&lesson_step=3`);
    await page.waitForSelector('[data-testid=step-header]', { timeout: 60_000 });
    const pattern = lang === 'en' ? /This step asks for layer 9 \(the model has 2\); head 7 \(the model has 4 per layer\)/ : /这一步要求显示 第 9 层.*；第 7 个头/;
    await page.waitForFunction((p) => [...document.querySelectorAll('.notice')].some((n) => new RegExp(p).test(n.textContent)), pattern.source);
    await page.waitForFunction((p) => [...document.querySelectorAll('.notice')].some((n) => new RegExp(p).test(n.textContent)),
      lang === 'en' ? 'This step pins token 99' : '这一步固定了第 99 个词元');
    const notices = await page.$$eval('.notice', (n) => n.map((x) => x.textContent.replace(/\s+/g, ' ').replace(/×$/, '').trim()));
    seen.step = seen.step ?? {};
    seen.step[lang] = notices.filter((n) => /step|这一步/.test(n) && !/Ignored|忽略/.test(n)).join(' ');
    if (lang === 'zh') assert.deepEqual(englishPhrases(seen.step.zh), [], seen.step.zh);
    assert.equal(await page.inputValue('[data-testid=layer]').catch(() => '0'), '0');
    assert.deepEqual(errors, []);
    await page.close();
  }
  record('Lesson files', 'a lesson step asks for a layer, a head and a token the model and the text do not have',
    `the first layer and head are shown; ${seen.step.en}`, name, seen.step.zh);
  record('Lesson files', 'a lesson question of an unknown kind (`ask=why`)',
    `no question is asked; ${seen.unknown.en}`, name, seen.unknown.zh);
  record('Lesson files', 'a lesson question about a word that is not in the text (`from=zebra`)',
    `the question shows no choices and says: ${seen.missing.en}`, name, seen.missing.zh);
  await context.close();
});

test('the sandbox: a cell that is not a number, or too large for a float', async () => {
  const name = 'sandbox faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const seen = {};
  for (const lang of ['en', 'zh']) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&panel=sandbox&lang=${lang}`);
    await page.waitForSelector('[data-testid=sandbox-weights]', { timeout: 60_000 });
    const before = await page.$$eval('[data-testid=sandbox-weights] .num', (n) => n.map((x) => x.dataset.value));
    for (const typed of ['abc', '1e40']) {
      await page.fill('[data-testid=sandbox-k-1-0]', typed);
      await page.waitForSelector('[data-testid=sandbox-invalid]');
      assert.equal(await page.getAttribute('[data-testid=sandbox-k-1-0]', 'aria-invalid'), 'true');
      seen[lang] = await visible(page, '[data-testid=sandbox-invalid]');
      if (lang === 'zh') assert.deepEqual(englishPhrases(seen[lang]), [], seen[lang]);
      // Nothing is lost: the last complete numbers stay computed.
      const shown = await page.$$eval('[data-testid=sandbox-weights] .num', (n) => n.map((x) => x.dataset.value));
      assert.deepEqual(shown, before);
    }
    await page.fill('[data-testid=sandbox-k-1-0]', '0');
    await page.waitForSelector('[data-testid=sandbox-invalid]', { state: 'detached' });
    assert.deepEqual(errors, []);
    await page.close();
  }
  // A link's sandbox that is not one: named, and the first example is shown.
  {
    const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&panel=sandbox&toy_q=1,x;1,2&toy_k=1,0;0,1&toy_v=1,0;0,1');
    await page.waitForSelector('[data-testid=sandbox-weights]', { timeout: 60_000 });
    await page.waitForSelector('.notice');
    seen.link = await visible(page, '.notice');
    assert.match(seen.link, /toy_q=1,x;1,2/);
    assert.equal(await page.inputValue('[data-testid=sandbox-k-1-1]'), '1.7', 'the first example');
    assert.deepEqual(errors, []);
    await page.close();
  }
  record('Text and URL input', 'a link\'s sandbox that is not one (`toy_q=1,x;1,2`: not a number; or q, k, v of different shapes)',
    `${seen.link} The sandbox shows its first example.`, name);
  record('Text and URL input', 'a sandbox cell that is not a number (“abc”), or too large for a 32-bit float (“1e40”)',
    `the cell is outlined in red and marked invalid; ${seen.en} (the results of the last complete numbers stay)`, name, seen.zh);
  await context.close();
});

/** The error banner's text once it matches `pattern` (a new trace clears the banner, and an
 *  analysis keyed on the trace reports its error again). */
async function errorMatching(page, pattern) {
  await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('[data-testid=error]')?.textContent ?? ''),
    pattern.source, { timeout: 30_000 });
  return visible(page, '[data-testid=error]');
}

test('lab: an induction run that does not fit the model, a second sentence too long, a head statistic that does not exist', async () => {
  const name = 'lab detector faults';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const text = encodeURIComponent('The cat sat on the mat.');
  const cases = [
    ['en', 'induction_seed=0&induction_period=40', /a repeated sequence of 40 tokens does not fit this model twice: choose 2 to 31 tokens/],
    ['zh', 'induction_seed=0&induction_period=40', /40 个词元的序列重复两次放不进这个模型：请选择 2 到 31 个词元/],
  ];
  for (const [lang, query, pattern] of cases) {
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${text}&lang=${lang}&panel=lab&${query}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    const message = await errorMatching(page, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message), [], message);
    // The detector's own button runs within the model's limit.
    await page.click('[data-testid=induction-run]');
    await page.waitForSelector('[data-testid=induction-map][data-plot*=" "]');
    const fault = lang === 'en'
      ? 'lab: a link running the induction detector on 40 tokens repeated (GPT-2 fixture: 64 positions, at most 31)'
      : 'lab: an induction run too long for the model (Chinese page)';
    record('Text and URL input', fault, `${message} (the detector's button runs it with the period clamped to 31)`, name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  // A second sentence longer than the model reads is refused, not truncated; the first stays.
  for (const lang of ['en', 'zh']) {
    const long = encodeURIComponent(Array(70).fill('cat').join(' '));
    const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${text}&lang=${lang}&panel=lab&text2=${long}`);
    await page.waitForSelector(READY, { timeout: 60_000 });
    const pattern = lang === 'en' ? /the second sentence has \d+ tokens but this model reads at most 64: shorten it/
      : /第二个句子有 \d+ 个词元，但这个模型最多读取 64 个/;
    const message = await errorMatching(page, pattern);
    if (lang === 'zh') assert.deepEqual(englishPhrases(message), [], message);
    await page.waitForSelector('[data-testid=token]');
    const fault = lang === 'en' ? 'lab: a second sentence longer than the model reads (text2 of 70 words; the fixture reads at most 64 tokens)'
      : 'lab: a second sentence too long (Chinese page)';
    record('Text and URL input', fault, `${message} (the first sentence stays traced; nothing is compared)`, name);
    assert.deepEqual(errors, []);
    await page.close();
  }
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${text}&panel=lab&head_stat=loudness`);
  await page.waitForSelector('[data-testid=notice]', { timeout: 60_000 });
  const notice = await visible(page, '[data-testid=notice]');
  assert.match(notice, /head_stat=loudness/);
  await page.waitForSelector('[data-testid=head-summary-map][data-plot*=" "]');
  record('Text and URL input', 'lab: a head statistic the page does not have (head_stat=loudness)', `${notice} (the map shows the default, entropy)`, name);
  assert.deepEqual(errors, []);
  await context.close();
});

const PAYLOADS = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', 'javascript:alert(1)', '"><svg onload=alert(1)>'];
const PARAMETERS = ['model', 'text', 'layer', 'head', 'token', 'panel', 'step', 'temperature', 'top_k', 'top_p', 'seed', 'lang', 'theme', 'embed', 'panels', 'lock',
  'neuron', 'factors', 'factor_layers', 'watch', 'ablate', 'ablation', 'causal_mask', 'pad_to', 'padding_mask',
  'head_stat', 'search_from', 'search_to', 'induction_seed', 'induction_period', 'text2'];

/** Elements a payload could have injected. */
const injected = (page) => page.evaluate(() => ({
  images: document.querySelectorAll('img').length,
  svgs: [...document.querySelectorAll('svg')].filter((s) => s.getAttribute('onload')).length,
  scripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
  handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
  links: [...document.querySelectorAll('a[href^="javascript:"]')].length,
}));
const NONE = { images: 0, svgs: 0, scripts: 0, handlers: 0, links: 0 };

test('script payloads in the text box and in every link parameter stay text', async () => {
  const name = 'script payloads';
  const { page, errors, context } = await openGpt2();
  for (const payload of PAYLOADS) {
    await page.fill('[data-testid=text]', payload);
    await page.waitForFunction(() => !document.querySelector('.busy') && document.querySelectorAll('[data-testid=token]').length > 0);
    await page.click('[data-testid=tab-heatmaps]');
    await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
    await page.click('[data-testid=tab-step]');
    assert.deepEqual(await injected(page), NONE, `typed ${payload}`);
    assert.equal(await page.inputValue('[data-testid=text]'), payload);
  }
  record('Text and URL input', `script payloads typed in the box (${PAYLOADS.length})`, 'shown as text (textarea and token chips); no dialog, no element injected', name);
  assert.deepEqual(errors, [], 'no dialog and no console error');
  await context.close();

  for (const payload of PAYLOADS) {
    const context2 = await site.browser.newContext();
    const query = '?' + PARAMETERS.map((p) => `${p}=${encodeURIComponent(payload)}`).join('&');
    const opened = await openPage(context2, site.origin, query);
    await opened.page.waitForSelector('[data-testid=notice]', { timeout: 60_000 });
    await opened.page.waitForTimeout(500);
    assert.deepEqual(await injected(opened.page), NONE, `link payload ${payload}`);
    const notice = await visible(opened.page, '[data-testid=notice]');
    assert.ok(notice.includes(payload.slice(0, 6)) || /not understood|Ignored/.test(notice), notice);
    assert.deepEqual(opened.errors.filter((e) => !e.startsWith('console: Failed to load resource')), [], `payload ${payload}`);
    await context2.close();
  }
  record('Text and URL input', `script payloads in all ${PARAMETERS.length} link parameters`, 'each named as text in the notice ("Ignored from the link … / not understood"); defaults used; no dialog, no element injected', name);
});

test('link parameters out of range and an unknown model fall back with a notice', async () => {
  const name = 'link parameters';
  const { page, context } = await openGpt2('&layer=99&head=-1&temperature=NaN');
  await page.waitForSelector('[data-testid=notice]');
  await page.waitForFunction(() => /layer 99/.test(document.querySelector('[data-testid=notice]').textContent));
  const notice = await visible(page, '[data-testid=notice]');
  assert.match(notice, /head=-1/);
  assert.match(notice, /temperature=NaN/);
  record('Text and URL input', 'layer=99, head=-1, temperature=NaN in the link', notice, name);
  await context.close();
  const unknown = await site.browser.newContext();
  const opened = await openPage(unknown, site.origin, '?model=gpt5:secret');
  await opened.page.waitForSelector('[data-testid=notice]');
  // The default model is the Hub's, which is unreachable here: the offline one opens, and says so.
  await opened.page.waitForFunction(() => /offline/.test(document.querySelector('[data-testid=notice]').textContent), null, { timeout: 60_000 });
  const said = await visible(opened.page, '[data-testid=notice]');
  assert.match(said, /gpt5:secret/);
  record('Text and URL input', 'unknown model in the link (model=gpt5:secret)', said, name);
  await unknown.close();
});

/** Sets the file input to the three files (name → bytes). */
async function pickFiles(page, files) {
  await page.click('.sources summary');
  await page.setInputFiles('[data-testid=file-input]', Object.entries(files).map(([name, buffer]) => ({ name, mimeType: 'application/octet-stream', buffer })));
}

test('model files: a cut-off file and NaN weights picked by the user', async () => {
  const name = 'picked model files';
  const { page, errors, context } = await openGpt2();
  const weights = GPT2('model.safetensors');
  await pickFiles(page, { 'config.json': GPT2('config.json'), 'tokenizer.json': GPT2('tokenizer.json'), 'model.safetensors': weights.subarray(0, weights.length / 2) });
  await page.waitForSelector('[data-testid=load-failed]');
  const failed = await visible(page, '[data-testid=load-failed]');
  assert.match(failed, /model\.safetensors: .*cut off/);
  const zh = await openGpt2('&lang=zh');
  await pickFiles(zh.page, { 'config.json': GPT2('config.json'), 'tokenizer.json': GPT2('tokenizer.json'), 'model.safetensors': weights.subarray(0, weights.length / 2) });
  await zh.page.waitForSelector('[data-testid=load-failed]');
  const failedZh = await visible(zh.page, '[data-testid=load-failed]');
  assert.match(failedZh, /model\.safetensors 无法使用：.*不完整/);
  assert.deepEqual(englishPhrases(failedZh), [], failedZh);
  await zh.page.screenshot({ path: 'test-artifacts/zh-error-cut-off-file.png' });
  await zh.context.close();
  record('Model files', 'a cut-off model.safetensors picked from disk', failed, name, failedZh);

  // NaN in the first value of the first F32 tensor.
  const length = Number(weights.readBigUInt64LE(0));
  const header = JSON.parse(weights.subarray(8, 8 + length).toString());
  const [tensor] = Object.entries(header).filter(([k, v]) => k !== '__metadata__' && v.dtype === 'F32');
  const damaged = Buffer.from(weights);
  damaged.writeFloatLE(NaN, 8 + length + tensor[1].data_offsets[0]);
  await page.setInputFiles('[data-testid=file-input]', [
    { name: 'config.json', mimeType: 'application/json', buffer: GPT2('config.json') },
    { name: 'tokenizer.json', mimeType: 'application/json', buffer: GPT2('tokenizer.json') },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: damaged },
  ]);
  await page.waitForSelector('[data-testid=model-warning]', { timeout: 30_000 });
  const warning = await visible(page, '[data-testid=model-warning]');
  assert.match(warning, /NaN or infinite/);
  await page.waitForSelector('[data-testid=token]');
  record('Model files', 'NaN weights in a picked model.safetensors', `loads and shows: ${warning}`, name);
  assert.deepEqual(errors.filter((e) => !/cut off/.test(e)), []);
  await context.close();
});

test('model files: a translator picked with its target_tokenizer.json, valid and damaged', async () => {
  const name = 'picked translator files';
  const TRANSLATOR = (file) => readFileSync(`assets/date-translator/${file}`);
  const translator = (target) => ({ 'config.json': TRANSLATOR('config.json'), 'tokenizer.json': TRANSLATOR('tokenizer.json'),
    'target_tokenizer.json': target, 'model.safetensors': TRANSLATOR('model.safetensors') });
  const { page, errors, context } = await openGpt2();
  // Its own tokenizer as the target side's: the file reaches the worker and the model loads.
  await pickFiles(page, translator(TRANSLATOR('tokenizer.json')));
  await page.waitForSelector('[data-testid=panel-translation]', { timeout: 60_000 });
  await page.fill('[data-testid=text]', 'the first of may');
  await page.fill('[data-testid=target]', '1969');
  // The decoder start token, ▁ and the four digits.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=target-token]').length === 6);
  await pickFiles(page, translator(Buffer.from('{"model": 17}')));
  await page.waitForSelector('[data-testid=load-failed]');
  const failed = await visible(page, '[data-testid=load-failed]');
  assert.match(failed, /target_tokenizer\.json: .*cannot read it/);
  record('Model files', 'a translator picked with a target_tokenizer.json that is not a tokenizer', failed, name);
  assert.deepEqual(errors, []);
  await context.close();
});

/** Cache entries whose URL contains `part`. */
const cachedFiles = (page, part) => page.evaluate(async (part) =>
  (await (await caches.open('attention-explorer-models-v1')).keys()).map((r) => r.url).filter((u) => u.includes(part)).map((u) => u.split('/').pop()), part);

test('a Marian Hub repository without tokenizer.json says to convert its SentencePiece files', async () => {
  const name = 'Marian without tokenizer.json';
  const context = await site.browser.newContext();
  const headers = { 'access-control-allow-origin': '*' };
  const { page, errors } = await openPage(context, site.origin, '?model=hub:Helsinki-NLP/opus-mt-en-de', (url) => {
    if (url.endsWith('/config.json')) return { status: 200, body: readFileSync('tests/fixtures/marian/config.json'), headers };
    return { status: 404, body: 'Entry not found', headers };
  });
  await page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
  const seen = await visible(page, '[data-testid=load-failed]');
  assert.match(seen, /tokenizer\.json does not exist: this Marian repository ships SentencePiece files.*scripts\/host-model\.sh/);
  record('Model files', 'a Marian Hub repository without tokenizer.json (SentencePiece files only)', seen, name);
  assert.deepEqual(errors, []);
  await context.close();
});

test('network: Hub 404, CORS refusal, offline, a dropped connection, a slow download, a damaged download', async () => {
  const name = 'network faults';
  const hub404 = await site.browser.newContext();
  let opened = await openPage(hub404, site.origin, '?model=hub:nobody/no-such-model',
    () => ({ status: 404, body: 'Repository not found', headers: { 'access-control-allow-origin': '*' } }));
  await opened.page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
  let seen = await visible(opened.page, '[data-testid=load-failed]');
  assert.match(seen, /does not exist \(HTTP 404\): check the repository name/);
  assert.ok(await opened.page.$('[data-testid=retry-load]'), 'a retry button');
  record('Network and runtime', 'Hub 404 (wrong repository id)', seen, name);
  await hub404.close();

  const cors = await site.browser.newContext();
  // Playwright's own replies pass CORS, so the Hub redirects to a server of another origin that
  // sends no Access-Control-Allow-Origin.
  const corsOrigin = `http://127.0.0.1:${special.address().port}`;
  opened = await openPage(cors, site.origin, '?model=hub:someone/no-cors', (url) => ({
    status: 302, headers: { location: `${corsOrigin}/nocors/${url.split('/').pop()}`, 'access-control-allow-origin': '*' },
  }));
  await opened.page.waitForSelector('[data-testid=notice]', { timeout: 30_000 });
  seen = await visible(opened.page, '[data-testid=notice]');
  assert.match(seen, /cannot be reached/);
  record('Network and runtime', 'CORS refused by the server', `the browser reports it like an unreachable host: ${seen}`, name);
  await cors.close();

  const offline = await site.browser.newContext();
  opened = await openPage(offline, site.origin, '');
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  seen = await visible(opened.page, '[data-testid=notice]');
  record('Network and runtime', 'offline (Hub unreachable)', seen, name);
  await offline.close();

  const specialOrigin = corsOrigin;
  const dropped = await site.browser.newContext();
  opened = await openPage(dropped, specialOrigin, '?model=folder:drop');
  await opened.page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
  seen = await visible(opened.page, '[data-testid=load-failed]');
  assert.match(seen, /model\.safetensors/);
  assert.ok(await opened.page.$('[data-testid=retry-load]'), 'a retry button');
  assert.deepEqual(await cachedFiles(opened.page, '/drop/'), ['config.json', 'tokenizer.json'], 'the broken download is not cached');
  record('Network and runtime', 'connection dropped mid-download (40 % of model.safetensors)', `${seen}; nothing partial is cached`, name);
  await dropped.close();

  const slow = await site.browser.newContext();
  opened = await openPage(slow, specialOrigin, '?model=folder:slow');
  const progress = [];
  for (let i = 0; i < 3; i++) {
    await opened.page.waitForFunction((last) => {
      const text = document.querySelector('[data-testid=progress]')?.textContent ?? '';
      return /model\.safetensors/.test(text) && text !== last;
    }, progress.at(-1) ?? '', { timeout: 10_000 });
    progress.push(await visible(opened.page, '[data-testid=progress]'));
  }
  await opened.page.click('[data-testid=cancel-download]');
  await opened.page.waitForSelector('[data-testid=load-failed]');
  seen = await visible(opened.page, '[data-testid=load-failed]');
  assert.match(seen, /cancelled/);
  assert.deepEqual(await cachedFiles(opened.page, '/slow/'), ['config.json', 'tokenizer.json']);
  await opened.page.click('[data-testid=retry-load]');
  await opened.page.waitForSelector(READY, { timeout: 30_000 });
  record('Network and runtime', 'very slow download (2 kB / 100 ms)', `progress moves ("${progress[0]}" → "${progress[2]}"); Cancel → "${seen}"; Try again loads it`, name);
  await slow.close();

  const damaged = await site.browser.newContext();
  opened = await openPage(damaged, specialOrigin, '?model=folder:cutfile');
  await opened.page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
  seen = await visible(opened.page, '[data-testid=load-failed]');
  assert.match(seen, /cut off/);
  await opened.page.waitForFunction(async () => {
    const keys = await (await caches.open('attention-explorer-models-v1')).keys();
    return !keys.some((r) => r.url.includes('/cutfile/'));
  });
  record('Network and runtime', 'a complete download of a damaged file (Content-Length matches, file cut)', `${seen}; its files are evicted from the cache, so Try again downloads afresh`, name);
  assert.deepEqual(opened.errors.filter((e) => !/cut off/.test(e)), []);
  await damaged.close();
});

test('downloads that arrive complete but wrong: one flipped bit, from this site or the Hub, is refused and not cached', async () => {
  const name = 'verified downloads';
  const specialOrigin = `http://127.0.0.1:${special.address().port}`;
  const refused = async (opened, part) => {
    await opened.page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
    const seen = await visible(opened.page, '[data-testid=load-failed]');
    assert.match(seen, /model\.safetensors arrived complete but is not the file published for it/);
    assert.match(seen, new RegExp(`SHA-256 ${sha256(FLIPPED).slice(0, 12)}…, expected ${sha256(GPT2('model.safetensors')).slice(0, 12)}…`));
    assert.ok(await opened.page.$('[data-testid=retry-load]'), 'a retry button');
    assert.deepEqual((await cachedFiles(opened.page, part)).sort(), ['config.json', 'tokenizer.json'], 'the refused file is not cached');
    assert.deepEqual(opened.errors.filter((e) => !/not the file published/.test(e)), []);
    return seen;
  };

  let context = await site.browser.newContext();
  let opened = await openPage(context, specialOrigin, '?model=folder:flipped');
  let seen = await refused(opened, '/flipped/');
  await context.close();
  context = await site.browser.newContext();
  opened = await openPage(context, specialOrigin, '?model=folder:flipped&lang=zh');
  await opened.page.waitForSelector('[data-testid=load-failed]', { timeout: 30_000 });
  const seenZh = await visible(opened.page, '[data-testid=load-failed]');
  assert.match(seenZh, /model\.safetensors 已完整下载，但与发布的文件不符/);
  assert.deepEqual(englishPhrases(seenZh), []);
  record('Network and runtime', 'a complete download with one flipped bit (this site: models/index.json lists its SHA-256)', `${seen} — nothing of it is cached`, name, seenZh);
  await context.close();

  // The Hub: the SHA-256 in X-Linked-Etag, or (no SHA-256 in the headers) in the LFS pointer at raw/.
  const real = GPT2('model.safetensors');
  const hub = (repo, { etag, pointer, weights }) => (url) => {
    const [, kind, file] = url.match(new RegExp(`^https://huggingface.co/${repo}/(resolve|raw)/main/(.+)$`)) ?? [];
    const headers = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag, X-Linked-Etag, X-Linked-Size' };
    if (kind === 'raw') {
      const text = file === 'model.safetensors' && pointer
        ? `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(real)}\nsize ${real.length}\n` : GPT2(file);
      return { status: 200, body: text, headers };
    }
    if (kind !== 'resolve') return null;
    const body = file === 'model.safetensors' ? weights : GPT2(file);
    if (file === 'model.safetensors' && etag) headers['x-linked-etag'] = `"${sha256(real)}"`;
    return { status: 200, body, headers: { ...headers, 'content-length': String(body.length) } };
  };
  for (const [how, published] of [['X-Linked-Etag', { etag: true }], ['the LFS pointer', { pointer: true }]]) {
    context = await site.browser.newContext();
    const repo = `someone/flipped-${published.etag ? 'etag' : 'pointer'}`;
    opened = await openPage(context, site.origin, `?model=hub:${repo}`, hub(repo, { ...published, weights: FLIPPED }));
    seen = await refused(opened, repo);
    record('Network and runtime', `a complete download with one flipped bit (the Hub: its SHA-256 in ${how})`, `${seen} — nothing of it is cached`, name);
    await context.close();
  }
  // The same Hub answers with the right bytes load: the check refuses only what differs.
  context = await site.browser.newContext();
  opened = await openPage(context, site.origin, '?model=hub:someone/right', hub('someone/right', { pointer: true, weights: real }));
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  assert.ok(opened.hubRequests.includes('https://huggingface.co/someone/right/raw/main/model.safetensors'), 'the pointer was asked for');
  assert.deepEqual(opened.errors, []);
  await context.close();

  // A new deployment of a folder model: the cached copy the index no longer lists is replaced.
  swapVersion = 0;
  context = await site.browser.newContext();
  await context.addInitScript(() => {
    // Counts the page's SHA-256 computations.
    const digest = SubtleCrypto.prototype.digest;
    window.__digests = 0;
    SubtleCrypto.prototype.digest = function (...args) { window.__digests++; return digest.apply(this, args); };
  });
  opened = await openPage(context, specialOrigin, '?model=folder:swap');
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  swapVersion = 1;
  const downloads = [];
  opened.page.on('request', (request) => { if (request.url().includes('/swap/')) downloads.push(request.url().split('/').pop()); });
  await opened.page.reload();
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  assert.equal(await opened.page.evaluate(() => window.__digests), 2, 'the stale copy and the new download were hashed, nothing else');
  const cachedSha = await opened.page.evaluate(async () => {
    const cache = await caches.open('attention-explorer-models-v1');
    const key = (await cache.keys()).find((r) => r.url.endsWith('/swap/model.safetensors'));
    const digest = await crypto.subtle.digest('SHA-256', await (await cache.match(key)).arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  });
  assert.deepEqual(downloads, ['model.safetensors'], 'only the changed file is downloaded again');
  assert.equal(cachedSha, sha256(FLIPPED), 'the cache holds the new deployment\'s file');
  // Copies cached with the digest they were checked against are not hashed again.
  await opened.page.reload();
  await opened.page.waitForSelector(READY, { timeout: 60_000 });
  assert.equal(await opened.page.evaluate(() => window.__digests), 0, 'a verified cached copy is hashed again');
  record('Network and runtime', 'a cached model file that a new deployment changed (models/index.json lists another SHA-256)',
    'the old copy is dropped and the new file downloaded; the unchanged files come from the cache, not hashed again (each copy keeps the SHA-256 it was checked against)', name);
  assert.deepEqual(opened.errors, []);
  await context.close();
});

test('an answer without a request (the worker could not read a message) is shown; the model and its cache stay', async () => {
  const name = 'unreadable message';
  const { page, errors, context } = await openGpt2();
  await page.waitForSelector('[data-testid=token]');
  const cached = (await cachedFiles(page, 'fixture-gpt2')).sort();
  assert.deepEqual(cached, ['config.json', 'model.safetensors', 'tokenizer.json']);
  const [worker] = page.workers();
  await worker.evaluate(() => self.dispatchEvent(new MessageEvent('message', { data: { id: 99, request: { kind: 'no_such_request' } } })));
  await page.waitForSelector('[data-testid=error]');
  const seen = await visible(page, '[data-testid=error]');
  assert.match(seen, /malformed request/);
  assert.equal(await page.isVisible('[data-testid=load-failed]'), false, 'no load failed');
  assert.ok(await page.isVisible(READY), 'the model is still loaded');
  assert.deepEqual((await cachedFiles(page, 'fixture-gpt2')).sort(), cached, 'nothing is evicted');
  await page.fill('[data-testid=text]', 'and the next text traces');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=token]')].map((t) => t.textContent).join('').includes('traces'));
  record('Network and runtime', 'the worker answers a message it cannot read (an answer with no request id)', `${seen} — the model stays loaded, its cached files stay, the next text traces`, name);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the worker crashes in the middle of a request; the page recovers and the next request works', async () => {
  const name = 'worker crash';
  const { page, errors, context } = await openGpt2();
  await page.waitForSelector('[data-testid=token]');
  const [worker] = page.workers();
  await page.fill('[data-testid=text]', 'a new sentence to trace');
  await worker.evaluate(() => self.dispatchEvent(new MessageEvent('message', { data: { id: 1, request: { kind: 'crash_for_test' } } })));
  await page.waitForSelector('[data-testid=error]');
  const seen = await visible(page, '[data-testid=error]');
  assert.match(seen, /model worker stopped.*restarted/s);
  await page.waitForSelector(READY, { timeout: 60_000 });
  await page.fill('[data-testid=text]', 'and the next request works');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=token]')].map((t) => t.textContent).join('').includes('works'));
  record('Network and runtime', 'the worker panics mid-request (test hook)', `${seen} — then the model is back and the next text traces`, name);
  assert.deepEqual(errors.filter((e) => !/crash|panicked|unreachable|RuntimeError/.test(e)), []);
  await context.close();
});

test('a strict Content-Security-Policy: no violation, no request to another host', async () => {
  const name = 'CSP';
  const policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' https://huggingface.co https://*.hf.co";
  const strict = await start('dist', { 'Content-Security-Policy': policy });
  try {
    const context = await strict.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const hosts = new Set();
    context.on('request', (request) => hosts.add(new URL(request.url()).host));
    const { page, errors } = await openPage(context, strict.origin, '?model=folder:fixture-gpt2&text=The%20cat%20sat.');
    await page.waitForSelector(READY, { timeout: 60_000 });
    for (const panel of ['step', 'heatmaps', 'positions', 'predictions', 'saliency']) {
      await page.click(`[data-testid=tab-${panel}]`);
      await page.waitForTimeout(400);
    }
    await page.waitForSelector('[data-testid=saliency-bars]');
    await page.click('[data-testid=theme-toggle]');
    await page.click('[data-testid=tab-heatmaps]');
    await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=heatmap-export-svg]')]);
    assert.ok(download.suggestedFilename().endsWith('.svg'));
    const violations = await page.evaluate(() => window.__violations);
    assert.deepEqual(violations, [], 'CSP violations');
    assert.deepEqual(errors, []);
    const others = [...hosts].filter((h) => h !== new URL(strict.origin).host && h !== 'huggingface.co');
    assert.deepEqual(others, [], 'requests to other hosts');
    record('Network and runtime', `served with ${policy}`, `0 CSP violations over every panel, dark mode and a download; requests only to ${[...hosts].join(', ')}`, name);
    await context.close();
  } finally {
    await strict.close();
  }
});

test('Subresource Integrity: the app\'s files carry it, and a changed one is refused with a message', async () => {
  const name = 'integrity';
  const html = readFileSync('dist/index.html', 'utf8');
  const tags = html.match(/<(script|link)\b[^>]*>/g).filter((tag) => /\b(src|href)="/.test(tag) && !/rel="icon"/.test(tag));
  const without = tags.filter((tag) => !/\bintegrity="sha384-[A-Za-z0-9+/=]+"/.test(tag));
  assert.deepEqual(without, ['<script src="service-worker-setup.js">'], 'only the host-editable script has no integrity');
  assert.ok(tags.length >= 5, `${tags.length} tags`);

  // start.js changed on the way (a copy of dist/ with one comment added).
  const copy = mkdtempSync(join(tmpdir(), 'ae-sri-'));
  for (const entry of readdirSync('dist')) {
    if (entry !== 'start.js') symlinkSync(resolve('dist', entry), join(copy, entry));
  }
  writeFileSync(join(copy, 'start.js'), readFileSync('dist/start.js', 'utf8') + '// changed on the way\n');
  const changed = await start(copy);
  try {
    const context = await changed.browser.newContext();
    const { page, errors } = await openPage(context, changed.origin, '?model=folder:fixture-gpt2');
    await page.waitForTimeout(3_000);
    const seen = (await visible(page, '[data-testid=starting]')).replace(/\s+/g, ' ');
    assert.match(seen, /If this stays, reload the page/);
    assert.equal(await page.$('[data-testid=model-picker], [data-testid=text]'), null, 'the app did not start');
    assert.ok(errors.some((e) => /integrity/.test(e)), `the browser names the integrity check: ${errors}`);
    record('Network and runtime', 'an app file changed on the way (start.js; Subresource Integrity)',
      `the browser refuses it and the app does not start; the page says: ${seen}`, name);
    await context.close();
  } finally {
    await changed.close();
    rmSync(copy, { recursive: true });
  }
  // Started normally, the notice is gone.
  const { page, context } = await openGpt2();
  assert.equal(await page.$('[data-testid=starting]'), null);
  await context.close();
});

test('threads: the threaded worker\'s files missing, and the isolation service worker refused', async () => {
  const name = 'threads';
  /** Traces a text at `origin` in `context`; returns whether the page was isolated, how it was
   *  loaded (no reload: "navigate") and the threads the model card has. */
  const traced = async (context, origin) => {
    const { page, errors } = await openPage(context, origin, '?model=folder:fixture-gpt2&text=The%20cat%20sat.');
    await page.waitForSelector(READY, { timeout: 60_000 });
    await page.waitForSelector('[data-testid=token]');
    const seen = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      load: performance.getEntriesByType('navigation')[0].type,
      threads: document.querySelector('[data-testid=worker-threads]').dataset.threads,
    }));
    return { seen, errors };
  };
  const isolated = await start('dist', ISOLATION_HEADERS);
  try {
    const context = await isolated.browser.newContext();
    await context.route('**/threads/**', (route) => route.fulfill({ status: 404, body: 'not found' }));
    const { seen, errors } = await traced(context, isolated.origin);
    assert.deepEqual(seen, { isolated: true, load: 'navigate', threads: '1' });
    assert.deepEqual(errors.filter((e) => !/404|Failed to load/.test(e)), []);
    record('Network and runtime', 'an isolated host without the threaded worker\'s files (threads/ missing)',
      'the page starts the single-threaded worker and traces; the model card names no threads', name);
  } finally {
    await isolated.close();
  }
  const copy = withIsolationShim();
  const shim = await start(copy);
  try {
    const context = await shim.browser.newContext({ serviceWorkers: 'block' });
    const { seen, errors } = await traced(context, shim.origin);
    assert.deepEqual(seen, { isolated: false, load: 'navigate', threads: '1' });
    assert.deepEqual(errors, []);
    record('Network and runtime', 'the isolation service worker turned on (isolation.js) where the browser refuses service workers',
      'no reload; the page traces on one thread; the model card names no threads', name);
    // Storage blocked (sessionStorage throws, as with all cookies blocked): no reload loop, no error.
    const blocked = await shim.browser.newContext();
    await blocked.addInitScript(() => Object.defineProperty(window, 'sessionStorage', {
      get() { throw new DOMException('The page may not use storage', 'SecurityError'); },
    }));
    const storage = await traced(blocked, shim.origin);
    assert.deepEqual(storage.seen, { isolated: false, load: 'navigate', threads: '1' });
    assert.deepEqual(storage.errors, []);
    record('Network and runtime', 'the isolation service worker turned on where the page may not use storage (sessionStorage throws)',
      'no reload and no error; the page traces on one thread', name);
  } finally {
    await shim.close();
    rmSync(copy, { recursive: true });
  }
});
