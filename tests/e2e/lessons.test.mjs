// Lessons: the guided tour walks every step on a decoder, an encoder and an encoder–decoder,
// each step's view is the one its file names, and its live numbers are the trace CLI's; a
// lesson file's placeholders are filled from the trace, and what cannot be filled shows "—"
// with a notice. (Hostile and broken lesson files: tests/e2e/faults.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { download, openPage, plain, softmax, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

/** A lesson file's steps: title, view parameters (a Map) and the model kind it is for. */
function lessonSteps(path) {
  const source = readFileSync(path, 'utf8');
  return source.split(/\n## /).slice(1).map((section) => {
    const title = section.split('\n')[0].trim();
    const block = section.match(/```view\n([\s\S]*?)```/)?.[1] ?? '';
    const view = new Map(block.split(/[\n&]/).map((p) => p.trim()).filter(Boolean).map((p) => p.split('=')));
    const only = view.get('only');
    view.delete('only');
    return { title, view, only };
  });
}

const fits = (only, kind) => only === undefined
  || only === kind
  || (only === 'one-text' && (kind === 'decoder' || kind === 'encoder'));

/** The live numbers on the card: name → {text, value, state}, in order. */
const liveValues = (page) => page.$$eval('[data-testid=lesson-value]', (nodes) => nodes.map((n) => ({
  name: n.dataset.name, text: n.textContent, value: n.dataset.value === undefined ? null : Number(n.dataset.value), state: n.dataset.state,
})));

/** Waits until the card shows step `title` with every live number known. */
async function atStep(page, title) {
  await page.waitForFunction((t) => document.querySelector('[data-testid=lesson-step-title]')?.textContent === t, title, { timeout: 30_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=lesson-value]')]
    .every((n) => n.dataset.state !== 'pending'), null, { timeout: 30_000 });
}

/** Checks that the address and the outline are the step's view. */
async function assertView(page, step) {
  const address = new URL(page.url()).searchParams;
  for (const [name, value] of step.view) {
    if (name === 'highlight') continue;
    assert.equal(address.get(name), value, `${step.title}: ${name}`);
  }
  const outlined = await page.evaluate(() => document.documentElement.dataset.highlight ?? null);
  assert.equal(outlined, step.view.get('highlight') ?? null, `${step.title}: the outlined part`);
}

test('the tour walks every step on the GPT-2 fixture, each view as its step says, with the CLI\'s numbers', async () => {
  const text = 'The dog saw the cat and it ran to the dog';
  const cli = traceCli('gpt2', text);
  const last = cli.tokens.length - 1;
  const steps = lessonSteps('crates/app/src/lesson/tour.en.md').filter((s) => fits(s.only, 'decoder'));
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(text)}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.click('[data-testid=tour-start]');
  const checked = new Set();
  for (const [index, step] of steps.entries()) {
    await atStep(page, step.title);
    assert.equal(await page.textContent('[data-testid=lesson-counter]'), `step ${index + 1} of ${steps.length}`);
    await assertView(page, step);
    assert.equal(new URL(page.url()).searchParams.get('tour'), String(index + 1));
    const values = await liveValues(page);
    assert.ok(values.every((v) => v.state === 'shown'), `${step.title}: ${JSON.stringify(values)}`);
    for (const v of values) {
      if (v.name === 'attention') {
        // Layer 1, head 1 (the tour's view), the last token's row.
        const row = cli.attentions[0][0][last];
        const top = row.indexOf(Math.max(...row));
        assert.ok(Math.abs(v.value - row[top]) < TOLERANCE, `${step.title}: attention ${v.value} vs ${row[top]}`);
        assert.equal(v.text, row[top].toFixed(2));
        checked.add('attention');
      }
      if (v.name === 'attended') {
        const row = cli.attentions[0][0][last];
        assert.equal(v.text, plain(cli.tokens[row.indexOf(Math.max(...row))]));
        checked.add('attended');
      }
      if (v.name === 'token') assert.equal(v.text, plain(cli.tokens[last]));
      if (v.name === 'tokens') assert.equal(v.text, String(cli.tokens.length));
      if (v.name === 'prob') {
        const p = softmax(cli.logits[last]);
        const top = p.indexOf(Math.max(...p));
        assert.ok(Math.abs(v.value - p[top]) < TOLERANCE, `prob ${v.value} vs ${p[top]}`);
        checked.add('prob');
      }
    }
    if (index === 4) await page.screenshot({ path: 'test-artifacts/tour-gpt2-step5.png' });
    if (index + 1 < steps.length) await page.click('[data-testid=lesson-next]');
  }
  assert.deepEqual([...checked].sort(), ['attended', 'attention', 'prob']);
  assert.ok(await page.isDisabled('[data-testid=lesson-next]'), 'the last step has no next');
  // Back, then leave: the card and the outline go, and so does `tour` in the address.
  await page.click('[data-testid=lesson-back]');
  await atStep(page, steps.at(-2).title);
  await page.click('[data-testid=lesson-leave]');
  await page.waitForSelector('[data-testid=lesson-card]', { state: 'detached' });
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('tour'));
  assert.equal(await page.evaluate(() => document.documentElement.dataset.highlight ?? null), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the tour in Chinese on DistilBERT at phone width: a link opens step 8, the keyboard moves on; T5 gets its own steps', async () => {
  const steps = lessonSteps('crates/app/src/lesson/tour.zh.md').filter((s) => fits(s.only, 'encoder'));
  const context = await site.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const text = encodeURIComponent('The cat sat on the [MASK].');
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-distilbert&lang=zh&text=${text}&tour=8`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(page, steps[7].title);
  assert.equal(await page.textContent('[data-testid=lesson-counter]'), `第 8 步，共 ${steps.length} 步`);
  await assertView(page, steps[7]);
  // The reloaded link shows the same step.
  await page.reload();
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(page, steps[7].title);
  // Tab to "next" and press Enter.
  await page.focus('[data-testid=lesson-next]');
  await page.keyboard.press('Enter');
  await atStep(page, steps[8].title);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling: ${overflow}px`);
  await page.screenshot({ path: 'test-artifacts/tour-zh-390.png' });
  // The fill-mask step: the first [MASK]'s first guess.
  const fill = steps.findIndex((s) => s.only === 'encoder' && s.view.get('panel') === 'predictions');
  await page.goto(`${site.origin}/?model=folder:fixture-distilbert&lang=zh&text=${text}&tour=${fill + 1}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(page, steps[fill].title);
  const cli = traceCli('distilbert', 'The cat sat on the [MASK].');
  const mask = cli.tokens.indexOf('[MASK]');
  const p = softmax(cli.logits[mask]);
  const prob = (await liveValues(page)).find((v) => v.name === 'prob');
  assert.ok(Math.abs(prob.value - Math.max(...p)) < TOLERANCE, `[MASK] fill ${prob.value} vs ${Math.max(...p)}`);
  await page.close();

  const pairSteps = lessonSteps('crates/app/src/lesson/tour.en.md').filter((s) => fits(s.only, 'encoder-decoder'));
  const pair = await openPage(context, site.origin, `?model=folder:fixture-t5&source=${encodeURIComponent('Hello world')}&target=Hallo&tour=2`);
  await pair.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(pair.page, pairSteps[1].title);
  await assertView(pair.page, pairSteps[1]);
  assert.equal(new URL(pair.page.url()).searchParams.get('attention'), 'cross');
  assert.equal(await pair.page.textContent('[data-testid=lesson-counter]'), `step 2 of ${pairSteps.length}`);
  assert.deepEqual([...errors, ...pair.errors], []);
  await context.close();
});

test('the example lessons on the GPT-2 fixture (both languages) and SmolLM2: every number shown, the attention cells the CLI\'s', async (t) => {
  const traces = new Map();
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  let compared = 0;
  const cases = ['coreference', 'causal-mask', 'positions'].flatMap((name) => [
    [name, 'en', 'fixture-gpt2', 'gpt2'],
    [name, 'zh', 'fixture-gpt2', 'gpt2'],
    [name, 'en', 'SmolLM2-135M-Instruct', '../../public/models/SmolLM2-135M-Instruct'],
  ]);
  for (const [name, lang, folder, model] of cases) {
    const key = (text) => `${model}\n${text}`;
    const trace = (text) => traces.get(key(text)) ?? traces.set(key(text), traceCli(model, text)).get(key(text));
    {
      const file = `public/lessons/${name}.${lang}.md`;
      const source = readFileSync(file, 'utf8');
      const lessonText = source.match(/^text: (.*)$/m)[1];
      const sections = source.split(/\n## /).slice(1);
      const steps = lessonSteps(file);
      const { page, errors } = await openPage(context, site.origin, `?model=folder:${folder}&lesson=lessons/${name}.${lang}.md`);
      await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
      const shown = [...steps.entries()].filter(([, step]) => fits(step.only, 'decoder'));
      for (const [walked, [index, step]] of shown.entries()) {
        if (walked > 0) await page.click('[data-testid=lesson-next]');
        await atStep(page, step.title);
        await assertView(page, step);
        const values = await liveValues(page);
        const address = new URL(page.url()).searchParams;
        const cli = trace(step.view.get('text') ?? lessonText);
        const placeholders = [...sections[index].matchAll(/\{(\w+)([^}]*)\}/g)].map((m) => ({
          name: m[1], args: Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
        }));
        assert.deepEqual(values.map((v) => v.name), placeholders.map((p) => p.name), `${file}, ${step.title}`);
        const find = (word) => cli.tokens.findIndex((t) => plain(t) === word);
        // The fixture's tokenizer splits some words ("animal"): those numbers are missing, and
        // the step says which word; every other number is shown.
        const split = placeholders.map(({ args }) => [args.from, args.to].find((w) => w !== undefined && find(w) < 0));
        for (const [at, value] of values.entries()) {
          assert.equal(value.state, split[at] ? 'missing' : 'shown', `${file}, ${step.title}: ${JSON.stringify(value)}`);
          if (split[at]) assert.match(await page.textContent('[data-testid=lesson-missing]'), new RegExp(split[at]));
        }
        if (step.view.has('causal_mask')) continue; // the lab's numbers, not the model's
        for (const [at, { name: kind, args }] of placeholders.entries()) {
          if (kind !== 'attention' || split[at]) continue;
          const layer = Number(args.layer ?? address.get('layer')) - 1;
          const head = Number(args.head ?? address.get('head')) - 1;
          const from = args.from ? find(args.from) : Number(address.get('token') ?? cli.tokens.length - 1);
          const row = cli.attentions[layer][head][from];
          const to = args.to ? find(args.to) : row.indexOf(Math.max(...row));
          assert.ok(Math.abs(values[at].value - row[to]) < TOLERANCE, `${folder}, ${file}, ${step.title}: ${values[at].value} vs ${row[to]}`);
          compared += 1;
        }
      }
      assert.deepEqual(errors, [], file);
      await page.close();
    }
  }
  // The fixture's tokenizer splits "animal" and "street"; SmolLM2's does not.
  assert.ok(compared >= 10, `${compared} attention cells compared`);
  t.diagnostic(`${compared} attention cells compared with the CLI`);
  await context.close();
});

test('a lesson file: its text is traced, its placeholders are the CLI\'s, what cannot be filled shows — with a notice', async () => {
  const text = 'The dog saw the cat and it ran to the dog';
  const cli = traceCli('gpt2', text);
  const last = cli.tokens.length - 1;
  const it = cli.tokens.indexOf('it');
  const the = cli.tokens.indexOf('␣the');
  const and = cli.tokens.indexOf('␣and');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&lesson=lessons/test/numbers.md');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(page, 'Softmax in layer 2, head 3');
  assert.equal(await page.inputValue('[data-testid=text]'), text, 'the lesson\'s text');
  const [query, attention, attended, fromIt, otherHead] = await liveValues(page);
  const row = cli.attentions[1][2][last];
  const top = row.indexOf(Math.max(...row));
  assert.equal(query.text, plain(cli.tokens[last]));
  assert.ok(Math.abs(attention.value - row[top]) < TOLERANCE);
  assert.equal(attended.text, plain(cli.tokens[top]));
  assert.ok(Math.abs(fromIt.value - cli.attentions[1][2][it][the]) < TOLERANCE, `"it" → "the": ${fromIt.value}`);
  assert.ok(Math.abs(otherHead.value - cli.attentions[0][1][it][and]) < TOLERANCE, `layer 1 head 2: ${otherHead.value}`);
  assert.equal(new URL(page.url()).searchParams.get('lesson_step'), '1');

  await page.click('[data-testid=lesson-next]');
  await atStep(page, 'The prediction');
  const p = softmax(cli.logits[last]);
  const best = p.indexOf(Math.max(...p));
  const [top1, prob, probThe] = await liveValues(page);
  assert.equal(top1.state, 'shown');
  assert.ok(Math.abs(prob.value - p[best]) < TOLERANCE);
  assert.ok(Math.abs(probThe.value - p[cli.input_ids[the]]) < TOLERANCE, `" the": ${probThe.value} vs ${p[cli.input_ids[the]]}`);

  await page.click('[data-testid=lesson-next]');
  await atStep(page, 'What cannot be filled');
  const missing = await liveValues(page);
  assert.deepEqual(missing.map((v) => [v.text, v.state]), [['—', 'missing'], ['—', 'missing'], ['—', 'missing']]);
  const notice = await page.textContent('[data-testid=lesson-missing]');
  assert.match(notice, /\{loudness\} is not a number this page knows/);
  assert.match(notice, /“zebra” is not a token of this text/);
  assert.match(notice, /“ zzzzq” is not among the model's most probable next tokens/);
  // The step's layer 9 does not exist: named in a notice, the page keeps working.
  await page.waitForFunction(() => /layer 9/.test(document.body.textContent));
  await page.screenshot({ path: 'test-artifacts/lesson-missing.png', fullPage: false });
  // A link that gives its own text (a student's copied link) keeps it.
  const linked = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent('My own text')}&lesson=lessons/test/numbers.md&lesson_step=2`);
  await linked.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(linked.page, 'The prediction');
  assert.equal(await linked.page.inputValue('[data-testid=text]'), 'My own text');
  assert.deepEqual([...errors, ...linked.errors], []);
  await context.close();
});

test('a recorded lesson reloads to the views it recorded', async () => {
  const text = 'The dog saw the cat and it ran to the dog';
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { page, errors } = await openPage(context, site.origin,
    `?model=folder:fixture-gpt2&text=${encodeURIComponent(text)}&panel=step&step=5&token=2&layer=1&head=2`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=step-header]');
  await page.click('[data-testid=embed-open]');
  const NOT_IN_A_STEP = ['model', 'lang', 'theme', 'embed', 'panels', 'lock', 'tour', 'lesson', 'lesson_step'];
  const viewNow = () => [...new URL(page.url()).searchParams].filter(([name]) => !NOT_IN_A_STEP.includes(name));
  const recorded = [];
  const record = async () => {
    recorded.push(viewNow());
    await page.click('[data-testid=record-step]');
    await page.waitForFunction((n) => document.querySelector('[data-testid=download-lesson]')?.textContent.includes(`(${n} `), recorded.length);
  };
  // The step-through at softmax with a pinned token.
  await record();
  // The heatmaps of layer 2, head 3, for another text.
  await page.click('[data-testid=tab-heatmaps]');
  await page.fill('[data-testid=text]', 'A cat sat on the mat');
  await page.selectOption('[data-testid=layer]', { value: '1' });
  await page.selectOption('[data-testid=head]', { value: '2' });
  await page.waitForFunction(() => {
    const p = new URL(location.href).searchParams;
    return p.get('panel') === 'heatmaps' && p.get('layer') === '2' && p.get('head') === '3' && p.get('text') === 'A cat sat on the mat';
  });
  await record();
  // The lab with a head switched off.
  await page.click('[data-testid=tab-lab]');
  await page.click('[data-testid=head-switch][data-layer="0"][data-head="1"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('ablate') === '1:2');
  await record();
  // Saliency of the third prediction, not the top one.
  await page.click('[data-testid=tab-saliency]');
  await page.locator('[data-testid=saliency-target]').nth(2).click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('saliency') !== null);
  await record();
  assert.match(await page.textContent('[data-testid=download-lesson]'), /4 steps/);
  const file = await download(page, 'download-lesson');
  assert.equal(file.name, 'my-lesson.md');
  writeFileSync('dist/lessons/test/recorded.md', file.bytes);
  await page.close();

  const opened = await openPage(context, site.origin, '?lesson=lessons/test/recorded.md');
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  const shown = async (index) => {
    await atStep(opened.page, `Step ${index + 1}`);
    await opened.page.waitForFunction((expected) => {
      const now = new URLSearchParams(location.search);
      return expected.every(([name, value]) => now.get(name) === value);
    }, recorded[index], { timeout: 30_000 });
    const now = new URL(opened.page.url()).searchParams;
    assert.equal(now.get('model'), 'folder:fixture-gpt2', 'the front matter\'s model');
    for (const [name, value] of recorded[index]) assert.equal(now.get(name), value, `step ${index + 1}: ${name}`);
    if (!recorded[index].some(([name]) => name === 'ablate')) assert.equal(now.get('ablate'), null, `step ${index + 1}: the model as trained`);
    if (!recorded[index].some(([name]) => name === 'saliency')) assert.equal(now.get('saliency'), null, `step ${index + 1}: the top prediction's saliency`);
  };
  await shown(0);
  for (const index of [1, 2, 3]) {
    await opened.page.click('[data-testid=lesson-next]');
    await shown(index);
  }
  await opened.page.click('[data-testid=lesson-back]');
  await shown(2);
  await opened.page.click('[data-testid=lesson-back]');
  await opened.page.click('[data-testid=lesson-back]');
  await shown(0);
  assert.deepEqual([...errors, ...opened.errors], []);
  await context.close();
});

test('a lesson\'s model wins over the default model, whichever load ends last', async () => {
  // The default model is the Hub's; with the Hub unreachable the page falls back to the best
  // offline model once it has read models/index.json. Holding the lesson file back until the Hub
  // has failed, and every read of the index for a while, makes the fallback's load begin after
  // the lesson's: it must give way to it, not replace it.
  writeFileSync('dist/lessons/test/model.md',
    '---\ntitle: A lesson with a model\nmodel: folder:fixture-gpt2\n---\n\n## One step\n\n```view\npanel=heatmaps\n```\n');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const hold = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const index = { held: 0, released: 0 };
  await context.route('**/models/index.json', async (route) => {
    index.held += 1;
    await hold(1500);
    index.released += 1;
    await route.continue();
  });
  await context.route('**/lessons/test/model.md', async (route) => { await hold(1000); await route.continue(); });
  const folders = [];
  context.on('request', (request) => {
    const folder = request.url().match(/\/models\/([^/]+)\//)?.[1];
    if (folder) folders.push(folder);
  });
  const { page, errors, hubRequests } = await openPage(context, site.origin, '?lesson=lessons/test/model.md');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForFunction(() => new URLSearchParams(location.search).get('model') !== null);
  while (index.released < index.held) await hold(100);
  await hold(1000);
  assert.ok(hubRequests.length > 0 && index.held >= 2, `the default tried the Hub (${hubRequests.length}) and the index was read ${index.held} times`);
  assert.deepEqual([...new Set(folders)], ['fixture-gpt2'], 'only the lesson\'s model was fetched');
  assert.equal(new URL(page.url()).searchParams.get('model'), 'folder:fixture-gpt2');
  assert.match(await page.textContent('[data-testid=model-card]'), /fixture-gpt2/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the site\'s lessons menu opens the causal-mask lesson: the first token gives itself all its attention, then the lab removes the mask', async () => {
  const steps = lessonSteps('public/lessons/causal-mask.en.md');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  const listed = await page.$$eval('[data-testid=lesson-menu] option', (options) => options.map((o) => o.value).filter(Boolean));
  for (const file of ['causal-mask.en.md', 'coreference.en.md', 'positions.en.md', 'causal-mask.zh.md']) {
    assert.ok(listed.includes(file), `the menu lists ${file}: ${listed}`);
  }
  assert.ok(listed.indexOf('positions.en.md') < listed.indexOf('causal-mask.zh.md'), 'the page\'s language first');
  await page.selectOption('[data-testid=lesson-menu]', { value: 'causal-mask.en.md' });
  await atStep(page, steps[0].title);
  assert.equal(await page.inputValue('[data-testid=text]'), 'The capital of France is');
  assert.equal(new URL(page.url()).searchParams.get('lesson'), 'lessons/causal-mask.en.md');
  for (const [index, step] of steps.entries()) {
    if (index > 0) {
      await page.click('[data-testid=lesson-next]');
      await atStep(page, step.title);
    }
    await assertView(page, step);
    if (step.view.get('token') === '0') {
      const [first] = await liveValues(page);
      assert.equal(first.name, 'attention');
      assert.ok(Math.abs(first.value - 1) < 1e-6, `the first token gives itself ${first.value}`);
    }
    const maskOff = new URL(page.url()).searchParams.get('causal_mask') === 'off';
    assert.equal(maskOff, step.view.get('causal_mask') === 'off', `${step.title}: the lab follows the step`);
  }
  // A lesson in Chinese shows the page in Chinese.
  await page.selectOption('[data-testid=lesson-menu]', { value: 'causal-mask.zh.md' });
  await atStep(page, lessonSteps('public/lessons/causal-mask.zh.md')[0].title);
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
  assert.equal(await page.textContent('[data-testid=lesson-next]'), '下一步');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the tour walks every step on the offline models (SmolLM2 (Llama), MiniLM, the date translator) and the DistilBERT and Llama fixtures', async () => {
  const cases = [
    ['fixture-distilbert', 'encoder', 'The capital of France is [MASK].', []],
    ['fixture-llama', 'decoder', 'The capital of France is', []],
    ['SmolLM2-135M-Instruct', 'decoder', 'The capital of France is', []],
    // MiniLM has no prediction head: the fill-mask step says so instead of a number.
    ['all-MiniLM-L6-v2', 'encoder', 'The capital of France is [MASK].', ['top1', 'prob']],
    ['date-translator', 'encoder-decoder', '', []],
  ];
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (const [folder, kind, text, unanswered] of cases) {
    if (!existsSync(`dist/models/${folder}`)) assert.fail(`scripts/fetch-assets.sh places ${folder} in models/`);
    const steps = lessonSteps('crates/app/src/lesson/tour.en.md').filter((s) => fits(s.only, kind));
    const query = text ? `&text=${encodeURIComponent(text)}` : '';
    const { page, errors } = await openPage(context, site.origin, `?model=folder:${folder}${query}&tour=1`);
    await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
    for (const [index, step] of steps.entries()) {
      if (index > 0) await page.click('[data-testid=lesson-next]');
      await page.waitForFunction((t) => document.querySelector('[data-testid=lesson-step-title]')?.textContent === t, step.title, { timeout: 30_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=lesson-value]')]
        .every((n) => n.dataset.state !== 'pending'), null, { timeout: 120_000 });
      await assertView(page, step);
      const missing = (await liveValues(page)).filter((v) => v.state !== 'shown').map((v) => v.name);
      assert.deepEqual(missing.filter((name) => !unanswered.includes(name)), [], `${folder}, ${step.title}`);
      if (missing.length > 0) assert.match(await page.textContent('[data-testid=lesson-missing]'), /makes no prediction/);
      // The saliency step's question: choices from the model, or (no prediction head) why not.
      if (step.view.get('panel') === 'saliency') {
        const selector = unanswered.length ? '[data-testid=question-cannot]' : '[data-testid=question-choice]';
        await page.waitForSelector(`[data-testid=question][data-ask=salient] ${selector}`, { timeout: 120_000 });
      }
    }
    assert.deepEqual(errors, [], folder);
    await page.close();
  }
  await context.close();
});

test('a lesson prints as a handout: every step with its numbers and a copy of its chart', async () => {
  const steps = lessonSteps('public/lessons/causal-mask.en.md');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&lesson=lessons/causal-mask.en.md&lesson_step=2');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await atStep(page, steps[1].title);
  await page.evaluate(() => { window.print = () => { window.__printed = (window.__printed ?? 0) + 1; }; });
  await page.click('[data-testid=lesson-print]');
  await page.waitForFunction(() => window.__printed === 1, null, { timeout: 120_000 });
  await atStep(page, steps[1].title); // back where the teacher was
  const printed = await page.$$eval('[data-testid=handout] .handout-step', (sections) => sections.map((s) => {
    const canvases = [...s.querySelectorAll('canvas')];
    let inked = 0;
    for (const canvas of canvases) {
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i + 3] > 0 && pixels[i] + pixels[i + 1] + pixels[i + 2] < 600) inked += 1;
    }
    return {
      title: s.querySelector('h2').textContent, text: s.textContent, charts: canvases.length, inked,
      controls: s.querySelectorAll('button, select, input, [data-testid], [id], [role]').length,
    };
  }));
  assert.deepEqual(printed.map((s) => s.title), steps.map((s) => s.title));
  for (const [index, step] of printed.entries()) {
    if (steps[index].view.get('panel') === 'step') {
      // The step-through's numbers are HTML: copied as they are.
      assert.ok((step.text.match(/-?\d+\.\d{4}/g) ?? []).length >= 2, `${step.title}: the step-through's numbers`);
    } else {
      assert.ok(step.charts > 0 && step.inked > 100, `${step.title}: its charts copied and drawn (${step.charts}, ${step.inked} dark pixels)`);
    }
    assert.equal(step.controls, 0, `${step.title}: no controls or ids in the copy`);
  }
  assert.match(printed[0].text, /with probability \d+\.\d %/, 'the prediction\'s live number');
  assert.match(printed[2].text, /gives 1\.00 of its attention/, 'the first token\'s live number');
  assert.match(printed[1].text, /−∞/, 'the mask step shows the masked scores');
  const byHand = printed.find((_, index) => steps[index].view.get('panel') === 'sandbox');
  assert.match(byHand.text, /1\.7/, 'the sandbox\'s typed numbers are printed');
  assert.match(byHand.text, /0\.1549[\s\S]*0\.8451/, 'and its weights');
  assert.match(await page.textContent('[data-testid=handout] h1'), /The causal mask and next-token prediction/);
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.$eval('main', (m) => getComputedStyle(m).display), 'none');
  assert.equal(await page.$eval('[data-testid=handout]', (h) => getComputedStyle(h).display), 'block');
  const pdf = await page.pdf({ path: 'test-artifacts/lesson-handout.pdf' });
  assert.ok(pdf.length > 20_000, `a printed handout (${pdf.length} bytes)`);
  await page.screenshot({ path: 'test-artifacts/lesson-handout-print.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
