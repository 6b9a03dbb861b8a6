// Predictions and saliency show the trace CLI's numbers: top-k next tokens = softmax of the CLI's
// logits at the chosen temperature, the top-k/top-p survivors, the logit lens, [MASK] fills as
// completed sentences, appending and sampling that grow the text and re-trace, and
// gradient×input saliency = the CLI's `saliency.scores`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, softmax, start, traceCli } from './support.mjs';

const TOLERANCE = 1e-4;
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

const ranked = (probabilities) => probabilities.map((p, id) => ({ id, p })).sort((a, b) => b.p - a.p);

async function openModel(viewport, model, text) {
  const context = await site.browser.newContext({ viewport });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-${model}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await opened.page.fill('[data-testid=text]', text);
  return { ...opened, context };
}

async function candidates(page) {
  return page.$$eval('[data-testid=candidate]', (nodes) => nodes.map((n) => ({
    id: Number(n.dataset.tokenId), p: Number(n.dataset.probability), survives: n.dataset.survives === 'true',
  })));
}

async function expectCandidates(page, logits, temperature) {
  const expected = ranked(softmax(logits, temperature)).slice(0, 10);
  await page.waitForFunction((first) => {
    const node = document.querySelector('[data-testid=candidate]');
    return node && Math.abs(Number(node.dataset.probability) - first) < 1e-4;
  }, expected[0].p);
  const shown = await candidates(page);
  assert.equal(shown.length, 10);
  shown.forEach((c, rank) => {
    assert.equal(c.id, expected[rank].id, `T=${temperature} rank ${rank}: token id`);
    assert.ok(Math.abs(c.p - expected[rank].p) <= TOLERANCE, `T=${temperature} rank ${rank}: shown ${c.p}, expected ${expected[rank].p}`);
  });
  return shown;
}

async function setRange(page, testid, value) {
  await page.$eval(`[data-testid=${testid}]`, (input, v) => {
    input.value = String(v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

test('GPT-2: top-k with temperature, survivors, logit lens, append, sample and saliency match the trace CLI', async () => {
  const TEXT = 'The cat sat on the mat because it';
  const cli = traceCli('gpt2', TEXT);
  const last = cli.logits[cli.logits.length - 1];
  const { page, errors, context } = await openModel({ width: 1280, height: 800 }, 'gpt2', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);
  await page.click('[data-testid=tab-predictions]');
  await expectCandidates(page, last, 1.0);
  assert.equal(await page.getAttribute('[data-testid=reused-logits]', 'data-reused'), 'true', 'the traced logits are re-scored');

  await setRange(page, 'temperature', 2);
  await expectCandidates(page, last, 2.0);
  assert.equal(await page.getAttribute('[data-testid=reused-logits]', 'data-reused'), 'true');

  // Top-k 4 then top-p 0.3: a token survives while the mass before it is short of 0.3.
  await page.fill('[data-testid=top-k]', '4');
  await page.press('[data-testid=top-k]', 'Enter');
  await page.$eval('[data-testid=top-k]', (input) => input.dispatchEvent(new Event('change', { bubbles: true })));
  await setRange(page, 'top-p', 0.3);
  const probabilities = ranked(softmax(last, 2.0)).slice(0, 4);
  let mass = 0;
  const survivors = probabilities.filter(({ p }) => { const keep = mass < 0.3; mass += p; return keep; }).length;
  await page.waitForFunction((n) => document.querySelector('[data-testid=survivors]')?.dataset.count === String(n), survivors);
  const flags = (await candidates(page)).map((c) => c.survives);
  assert.deepEqual(flags, [...Array(10).keys()].map((rank) => rank < survivors));

  // The logit lens: embeddings + 2 layers; the final layer ranks its own prediction first.
  const ranks = await page.$$eval('[data-testid=lens-rank]', (cells) => cells.map((c) => Number(c.dataset.rank)));
  assert.equal(ranks.length, cli.hidden_states.length);
  assert.equal(ranks[ranks.length - 1], 1);
  await page.screenshot({ path: 'test-artifacts/predictions-gpt2-1280.png', fullPage: true });

  // Clicking a candidate appends it and traces again; sampling appends a drawn survivor.
  const tokensBefore = cli.input_ids.length;
  const second = (await candidates(page))[1];
  await page.click('[data-testid=candidate] >> nth=1');
  await page.waitForSelector('[data-testid=generated]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length > n, tokensBefore);
  const afterClick = await page.inputValue('[data-testid=text]');
  assert.ok(afterClick.startsWith(TEXT) && afterClick.length > TEXT.length, `text grew: ${afterClick}`);
  const clicked = traceCli('gpt2', afterClick);
  assert.ok(clicked.input_ids.includes(second.id), 'the appended token is in the new text');
  await page.waitForSelector('[data-testid=candidate]');
  await page.click('[data-testid=sample]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=generated]').length === 2);
  const afterSample = await page.inputValue('[data-testid=text]');
  assert.ok(afterSample.startsWith(afterClick) && afterSample.length > afterClick.length, `sampling grew the text: ${afterSample}`);

  // Hovering a generated token shows the saliency that produced it, right there.
  await page.hover('[data-testid=generated] >> nth=0');
  await page.waitForSelector(`[data-testid=timeline-saliency] [data-testid=saliency-header][data-target="${second.id}"]`, { timeout: 60_000 });
  // The logit lens follows the pinned token.
  await page.click('[data-testid=token][data-index="3"]');
  await page.waitForSelector('[data-testid=logit-lens][data-position="3"]');

  // The first generated token's saliency equals the CLI's for the same position and target.
  const generated = await page.$eval('[data-testid=generated]', (n) => Number(n.dataset.position));
  await page.click('[data-testid=generated] >> nth=0');
  await page.waitForSelector('[data-testid=tab-saliency][aria-selected=true]');
  await page.waitForSelector(`[data-testid=saliency-header][data-target="${second.id}"]`, { timeout: 60_000 });
  const finalText = await page.inputValue('[data-testid=text]');
  const reference = traceCli('gpt2', finalText, ['--position', String(generated - 1), '--target', String(second.id)]);
  const shares = await page.$$eval('[data-testid=saliency-tokens] .salient', (spans) => spans.map((s) => Number(s.dataset.value)));
  assert.equal(shares.length, reference.saliency.scores.length);
  shares.forEach((share, i) => assert.ok(Math.abs(share - reference.saliency.scores[i]) <= TOLERANCE, `saliency[${i}]: shown ${share}, CLI ${reference.saliency.scores[i]}`));
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'shares sum to 1');
  assert.ok(await page.isVisible('[data-testid=caution]'));
  await page.screenshot({ path: 'test-artifacts/saliency-gpt2-1280.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('GPT-2: "Generate" draws tokens as "Sample" does, each trace extending the last, and stops', async () => {
  const TEXT = 'The cat sat on the mat because it';
  const generatedCount = (page) => page.$$eval('[data-testid=generated]', (nodes) => nodes.length);
  const { page, errors, context } = await openModel({ width: 1280, height: 800 }, 'gpt2', TEXT);
  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=candidate]');
  await page.fill('[data-testid=generate-count]', '4');
  await page.$eval('[data-testid=generate-count]', (input) => input.dispatchEvent(new Event('change', { bubbles: true })));
  await page.click('[data-testid=generate]');
  await page.waitForSelector('[data-testid=generate-stop]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=generated]').length === 4
    && document.querySelector('[data-testid=generate]'), null, { timeout: 60_000 });
  const generated = await page.inputValue('[data-testid=text]');
  const cli = traceCli('gpt2', generated);
  // The last trace computed only the last token and kept the rest; its predictions are the CLI's.
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);
  const kept = Number(await page.getAttribute('[data-testid=trace-time]', 'data-kept'));
  assert.equal(kept, cli.input_ids.length - 1, 'the last trace extended the one before');
  assert.match(await page.textContent('[data-testid=trace-time]'), /1 new token/);
  await expectCandidates(page, cli.logits[cli.logits.length - 1], 1.0);
  await page.screenshot({ path: 'test-artifacts/predictions-generated-gpt2-1280.png', fullPage: true });

  // The same seeds: four clicks on "Sample" in a fresh page draw the same four tokens.
  const fresh = await openModel({ width: 1280, height: 800 }, 'gpt2', TEXT);
  await fresh.page.click('[data-testid=tab-predictions]');
  for (let n = 1; n <= 4; n++) {
    await fresh.page.waitForSelector('[data-testid=candidate]');
    await fresh.page.click('[data-testid=sample]');
    await fresh.page.waitForFunction((count) => document.querySelectorAll('[data-testid=generated]').length === count, n);
    await fresh.page.waitForFunction(() => document.querySelector('[data-testid=trace-time]')?.dataset.ms !== '-1');
  }
  assert.equal(await fresh.page.inputValue('[data-testid=text]'), generated);
  await fresh.context.close();

  // Stop ends a long generation between two tokens.
  await page.fill('[data-testid=generate-count]', '200');
  await page.$eval('[data-testid=generate-count]', (input) => input.dispatchEvent(new Event('change', { bubbles: true })));
  await page.click('[data-testid=generate]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=generated]').length >= 7, null, { timeout: 60_000 });
  // The button moves as each token lengthens the text above it: a click event, not a pointer aimed at it.
  await page.locator('[data-testid=generate-stop]').dispatchEvent('click');
  const atStop = await generatedCount(page);
  await page.waitForSelector('[data-testid=generate]');
  await page.waitForTimeout(1500);
  const later = await generatedCount(page);
  assert.ok(later <= atStop + 1 && later < 200, `stopped: ${atStop} at the click, ${later} after`);
  assert.equal(await generatedCount(page), later, 'nothing more is drawn');
  assert.deepEqual(errors, []);
  assert.deepEqual(fresh.errors, []);
  await context.close();
});

test('DistilBERT: [MASK] fills are completed sentences with the CLI probabilities; masking a token adds a mask', async () => {
  const TEXT = 'the cat sat on the [MASK] .';
  const cli = traceCli('distilbert', TEXT);
  const mask = cli.tokens.indexOf('[MASK]');
  assert.ok(mask > 0, 'the fixture tokenizer knows [MASK]');
  const { page, errors, context } = await openModel({ width: 390, height: 844 }, 'distilbert', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);
  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=fill]');
  const expected = ranked(softmax(cli.logits[mask], 1.0)).slice(0, 10);
  const fills = await page.$$eval('[data-testid=fill]', (nodes) => nodes.map((n) => ({ id: Number(n.dataset.tokenId), p: Number(n.dataset.probability), text: n.textContent })));
  assert.equal(fills.length, 10);
  fills.forEach((fill, rank) => {
    assert.equal(fill.id, expected[rank].id, `rank ${rank}`);
    assert.ok(Math.abs(fill.p - expected[rank].p) <= TOLERANCE, `rank ${rank}: ${fill.p} vs ${expected[rank].p}`);
    assert.ok(fill.text.includes('the cat sat on the') && !fill.text.includes('[MASK]'), `a completed sentence: ${fill.text}`);
  });
  assert.equal(await page.getAttribute('[data-testid=mask-fill]', 'data-position'), String(mask));

  // Pin "cat" and replace it by [MASK]: two masks, two fill lists.
  await page.click('[data-testid=token][data-index="2"]');
  await page.click('[data-testid=mask-query]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=mask-fill]').length === 2);
  assert.equal(await page.inputValue('[data-testid=text]'), 'the [MASK] sat on the [MASK] .');
  await page.screenshot({ path: 'test-artifacts/predictions-distilbert-390.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
