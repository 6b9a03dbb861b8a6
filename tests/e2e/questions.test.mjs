// Predict-then-reveal questions: a lesson's question and "Test yourself" offer the model's own
// choices, reveal the model's answer with its number (equal to the trace CLI's), keep the score
// in the browser across a reload, and name what cannot be asked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, plain, softmax, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
const IT = 'The animal didn\'t cross the street because it was too tired.';
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

const argmax = (row) => row.reduce((best, x, i) => (x > row[best] ? i : best), 0);

/** The shown question once its choices are there: kind, labels and the score line. */
async function question(page, ask) {
  await page.waitForSelector(`[data-testid=question][data-ask=${ask}] [data-testid=question-choice]`, { timeout: 60_000 });
  return {
    labels: await page.$$eval('[data-testid=question-choice]', (b) => b.map((x) => x.textContent.trim())),
    prompt: await page.textContent('[data-testid=question-prompt]'),
  };
}

/** Clicks choice `index` and returns the reveal's data: right, answer, value. */
async function answer(page, index) {
  await page.click(`[data-testid=question-choice][data-index="${index}"]`);
  const reveal = await page.waitForSelector('[data-testid=question-reveal]');
  const data = await reveal.evaluate((n) => ({ ...n.dataset, text: n.textContent }));
  return { right: data.right === 'true', answer: Number(data.answer), value: Number(data.value), text: data.text };
}

const score = (page) => page.textContent('[data-testid=question-score]');

test('a lesson asks which token "it" attends to: the reveal is the CLI\'s, the score survives a reload', async () => {
  const cli = traceCli('gpt2', IT);
  const it = cli.tokens.findIndex((t) => plain(t) === 'it');
  const row = cli.attentions[0][0][it];
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&lesson=lessons/coreference.en.md&lesson_step=2');
  // The lesson's text replaces the page's.
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=question-choice]').length === n, it + 1, { timeout: 60_000 });
  const shown = await question(page, 'attended');
  assert.match(shown.prompt, /In layer 1, head 1, which token does “it” give the most attention to\?/);
  // A decoder's "it" chooses among itself and the tokens before it.
  assert.deepEqual(shown.labels, cli.tokens.slice(0, it + 1).map((t) => plain(t) || t));
  assert.match(await score(page), /Your score: 0 of 0/);
  const best = argmax(row.slice(0, it + 1));
  const wrong = best === 0 ? 1 : 0;
  const revealed = await answer(page, wrong);
  assert.equal(revealed.right, false);
  assert.equal(revealed.answer, best);
  assert.ok(Math.abs(revealed.value - row[best]) <= TOLERANCE, `shown ${revealed.value}, CLI ${row[best]}`);
  assert.match(revealed.text, /Not this time: the model's answer is/);
  // Every choice now shows its weight; none can be chosen again.
  const values = await page.$$eval('[data-testid=question-choice] .num', (n) => n.map((x) => Number(x.dataset.value)));
  values.forEach((v, key) => assert.ok(Math.abs(v - row[key]) <= TOLERANCE, `weight of key ${key}`));
  assert.equal(await page.$$eval('[data-testid=question-choice]:not([disabled])', (n) => n.length), 0);
  assert.match(await score(page), /Your score: 0 of 1/);
  await page.screenshot({ path: 'test-artifacts/question-lesson.png' });

  // Another head asks again; the score is kept in the browser across a reload.
  await page.selectOption('[data-testid=head]', { value: '1' });
  await page.waitForSelector('[data-testid=question-reveal]', { state: 'detached' });
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=question-choice]').length === n, it + 1, { timeout: 60_000 });
  assert.match(await score(page), /Your score: 0 of 1/);
  assert.match(await page.textContent('[data-testid=question-prompt]'), /head 2/);
  const head2 = cli.attentions[0][1][it].slice(0, it + 1);
  const again = await answer(page, argmax(head2));
  assert.ok(Math.abs(again.value - Math.max(...head2)) <= TOLERANCE);
  assert.equal(again.right, true);
  assert.match(again.text, /Right!/);
  assert.match(await score(page), /Your score: 1 of 2/);
  await page.click('[data-testid=question-reset]');
  assert.match(await score(page), /Your score: 0 of 0/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('"Test yourself" on GPT-2: attention, the next token and saliency, each the CLI\'s', async () => {
  const text = 'The capital of France is';
  const cli = traceCli('gpt2', text);
  const last = cli.tokens.length - 1;
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(text)}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.click('[data-testid=quiz-start]');

  // Attention of the query token (the last) in layer 1, head 1.
  const attended = await question(page, 'attended');
  assert.equal(attended.labels.length, last + 1);
  const row = cli.attentions[0][0][last];
  const a = await answer(page, argmax(row));
  assert.equal(a.right, true);
  assert.ok(Math.abs(a.value - row[argmax(row)]) <= TOLERANCE);

  // The next token: five candidates in alphabetical order; the answer is the CLI's top one.
  await page.click('[data-testid=quiz-another]');
  const next = await question(page, 'next');
  assert.equal(next.labels.length, 5);
  const lower = next.labels.map((l) => l.toLowerCase());
  assert.ok(lower.every((l, i) => i === 0 || lower[i - 1] <= l), `alphabetical: ${next.labels}`);
  const p = softmax(cli.logits[last]);
  const n = await answer(page, 0);
  assert.ok(Math.abs(n.value - Math.max(...p)) <= TOLERANCE, `top probability: shown ${n.value}, CLI ${Math.max(...p)}`);

  // Saliency: every token is a choice; the answer is the CLI's largest share.
  await page.click('[data-testid=quiz-another]');
  const salient = await question(page, 'salient');
  assert.equal(salient.labels.length, cli.tokens.length);
  const shares = cli.saliency.scores;
  const s = await answer(page, argmax(shares));
  assert.equal(s.right, true);
  assert.ok(Math.abs(s.value - shares[argmax(shares)]) <= TOLERANCE);
  assert.match(await score(page), /Your score: 2 of 3/);

  // Back to attention, about the next token (not the first: it sees only itself).
  await page.click('[data-testid=quiz-another]');
  await question(page, 'attended');
  await page.click('[data-testid=quiz-close]');
  await page.waitForSelector('[data-testid=quiz]', { state: 'detached' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('in Chinese on DistilBERT: the [MASK] question; a decoder\'s first token and T5 are named', async () => {
  const text = 'The capital of France is [MASK].';
  const cli = traceCli('distilbert', text);
  const mask = cli.tokens.indexOf('[MASK]');
  const context = await site.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-distilbert&lang=zh&text=${encodeURIComponent(text)}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.click('[data-testid=quiz-start]');
  await page.click('[data-testid=quiz-another]');
  const fill = await question(page, 'next');
  assert.match(fill.prompt, /模型在第一个 \[MASK\] 处填入哪个词元/);
  const n = await answer(page, 0);
  const top = Math.max(...softmax(cli.logits[mask]));
  assert.ok(Math.abs(n.value - top) <= TOLERANCE, `fill: shown ${n.value}, CLI ${top}`);
  assert.match(n.text, /模型的答案是/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
  await page.screenshot({ path: 'test-artifacts/question-zh-390.png' });
  assert.deepEqual(errors, []);
  await page.close();

  // A decoder's first token sees only itself: nothing to guess, and the page says so.
  const gpt2 = await openPage(context, site.origin, '?model=folder:fixture-gpt2&lang=zh&token=0');
  await gpt2.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await gpt2.page.click('[data-testid=quiz-start]');
  const cannot = await gpt2.page.waitForSelector('[data-testid=question-cannot]');
  assert.match(await cannot.textContent(), /解码器的第一个词元只能看它自己/);
  assert.deepEqual(gpt2.errors, []);
  await gpt2.page.close();

  // An encoder–decoder has its own panel and no "Test yourself".
  const t5 = await openPage(context, site.origin, '?model=folder:fixture-t5');
  await t5.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  assert.equal(await t5.page.$$eval('[data-testid=quiz-start]', (n) => n.length), 0);
  assert.deepEqual(t5.errors, []);
  await context.close();
});
