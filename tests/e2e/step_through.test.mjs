// The step-through shows the trace CLI's numbers: q, k, v, scores, masked scores, softmax
// probabilities and the head output, for the same text, layer, head and query token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start, traceCli } from './support.mjs';

const TEXT = 'Hello world, the cat sat on the mat.';
const [LAYER, HEAD, QUERY] = [1, 2, 5];
const TOLERANCE = 1e-4;
let site, cli;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  cli = traceCli('gpt2', TEXT);
  site = await start();
});

after(async () => site?.close());

const parse = (text) => (text === '-inf' ? -Infinity : Number(text));

function assertClose(shown, expected, what) {
  assert.equal(shown.length, expected.length, `${what}: count`);
  shown.forEach((value, i) => {
    const want = expected[i] === null ? -Infinity : expected[i];
    if (want === -Infinity) assert.equal(value, -Infinity, `${what}[${i}] must be −∞`);
    else assert.ok(Math.abs(value - want) <= TOLERANCE, `${what}[${i}]: shown ${value}, trace CLI ${want}`);
  });
}

async function values(page, selector) {
  return (await page.$$eval(selector, (nodes) => nodes.map((n) => n.dataset.value))).map(parse);
}

test('every step shows the trace CLI numbers, and the keyboard steps through', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.fill('[data-testid=text]', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);
  await page.selectOption('[data-testid=layer]', { value: String(LAYER) });
  await page.selectOption('[data-testid=head]', { value: String(HEAD) });
  await page.click(`[data-testid=token][data-index="${QUERY}"]`);
  await page.waitForSelector('[data-testid=step-1]');
  assert.match(await page.textContent('[data-testid=step-header]'), new RegExp(`Layer ${LAYER + 1}, head ${HEAD + 1}.*position ${QUERY}`));

  const head = (field) => cli[field][LAYER][HEAD];
  for (const kind of ['q', 'k', 'v']) {
    const shown = await values(page, `[data-testid=qkv] tbody .vector[data-kind=${kind}] .cell`);
    assertClose(shown, head(kind).flat(), kind);
  }
  await page.screenshot({ path: 'test-artifacts/step-1-qkv-1280.png', fullPage: true });

  await page.click('[data-testid=step-next]');
  await page.waitForSelector('[data-testid=step-2]');
  const dots = await values(page, '.num[data-kind=dot]');
  assertClose(dots.map((d) => d / Math.sqrt(cli.q[0][0][0].length)), head('scores')[QUERY], 'q·k / √dₖ');

  // The keyboard: → moves on, ← goes back.
  await page.focus('[data-testid=stepper]');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-3]');
  assertClose(await values(page, '.num[data-kind=score]'), head('scores')[QUERY], 'scores');
  // The formula shows the hovered key's real numbers: s = q·k / √dₖ.
  await page.hover('[data-testid=scores-table] tr:nth-child(3)');
  const formula = await page.textContent('[data-testid=formula]');
  assert.ok(formula.includes(head('scores')[QUERY][2].toFixed(4)), `formula for key 2: ${formula}`);
  assert.ok(formula.includes(cli.tokens[2]), 'the formula names the hovered key');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-4]');
  const masked = await values(page, '.num[data-kind=masked]');
  assertClose(masked, head('masked_scores')[QUERY], 'masked scores');
  assert.equal(masked.filter((m) => m === -Infinity).length, cli.input_ids.length - QUERY - 1, 'future keys are masked');
  await page.keyboard.press('ArrowLeft');
  await page.waitForSelector('[data-testid=step-3]');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-5]');
  assertClose(await values(page, '.num[data-kind=prob]'), head('attentions')[QUERY], 'softmax probabilities');
  await page.hover('[data-testid=softmax-table] tr:nth-child(1)');
  assert.ok((await page.textContent('[data-testid=formula]')).includes(head('attentions')[QUERY][0].toFixed(4)), 'softmax formula');
  await page.screenshot({ path: 'test-artifacts/step-5-softmax-1280.png', fullPage: true });
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-6]');
  assertClose(await values(page, '[data-testid=head-output] .num'), head('head_outputs')[QUERY], 'head output');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-7]');
  const concatenated = await values(page, '.vector[data-kind=concatenated] .cell');
  assertClose(concatenated, cli.head_outputs[LAYER].flatMap((heads) => heads[QUERY]), 'all heads side by side');
  assert.ok(await page.$('.head-block.selected'), 'the selected head is marked');
  assert.ok(await page.$('.vector[data-kind=attention-output]'));

  // Past attention, the same token through the rest of the block.
  const row = (field) => cli[field][LAYER][QUERY];
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-8]');
  assertClose(await values(page, '.vector[data-kind=norm-input] .cell'), row('ln2_inputs'), 'the residual sum r the norm reads');
  assertClose(await values(page, '.vector[data-kind=gamma] .cell'), cli.ln2_weights[LAYER], 'γ');
  assertClose(await values(page, '.vector[data-kind=beta] .cell'), cli.ln2_biases[LAYER], 'β');
  assertClose(await values(page, '[data-testid=normed-values] .num'), row('ln2_outputs'), 'the normed row');
  const r = row('ln2_inputs');
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const variance = r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length;
  assertClose(await values(page, '[data-testid=norm-statistics] .num'), [mean, variance], 'μ and σ² of r');
  await page.screenshot({ path: 'test-artifacts/step-8-norm-1280.png', fullPage: true });
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-9]');
  assertClose(await values(page, '[data-testid=pre-activation-values] .num'), row('mlp_pre_activations'), 'h = y·W₁ + b₁');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-10]');
  assertClose(await values(page, '[data-testid=activation-values] .num'), row('mlp_activations'), 'a = GELU(h)');
  const strongest = row('mlp_activations').indexOf(Math.max(...row('mlp_activations')));
  assert.equal(await page.getAttribute('[data-testid=neuron-row]', 'data-neuron'), String(strongest), 'the most active neuron first');
  await page.screenshot({ path: 'test-artifacts/step-10-activation-1280.png', fullPage: true });
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-11]');
  assertClose(await values(page, '[data-testid=ffn-output-values] .num'), row('mlp_outputs'), 'f = a·W₂ + b₂');
  assertClose(await values(page, '.vector[data-kind=block-sum] .cell'), r.map((x, i) => x + row('mlp_outputs')[i]), 'r + f');
  assert.equal(await page.$('[data-testid=next-stream-values]'), null, "GPT-2's last stream is given after ln_f, so it is not shown as the block's");
  // After the last block: ln_f's row (transformers' last hidden state) and the head's logits.
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-12]');
  assertClose(await values(page, '[data-testid=head-input-values] .num'), cli.hidden_states[2][QUERY], 'ln_f(x)');
  await page.waitForSelector('[data-testid=head-candidates] tbody tr');
  const logits = cli.logits[QUERY];
  const top = logits.map((l, id) => [id, l]).sort((a, b) => b[1] - a[1]).slice(0, 3);
  const shown = await page.$$eval('[data-testid=head-candidates] tbody tr', (rows) => rows.map((r) => [Number(r.dataset.tokenId), Number(r.querySelector('.num').dataset.value)]));
  assert.deepEqual(shown.map((s) => s[0]), top.map((t) => t[0]), 'the head\'s top tokens at the query');
  shown.forEach(([, logit], i) => assert.ok(Math.abs(logit - top[i][1]) <= TOLERANCE, `logit ${i}`));
  assert.ok(await page.$eval('[data-testid=step-next]', (b) => b.disabled), 'the last step');
  await page.screenshot({ path: 'test-artifacts/step-12-head-1280.png', fullPage: true });

  // Another layer's internals come from the worker when that layer is selected.
  await page.selectOption('[data-testid=layer]', { value: '0' });
  await page.waitForFunction(() => /^Layer 1, head/.test(document.querySelector('[data-testid=step-header]')?.textContent ?? ''));
  assertClose(await values(page, '[data-testid=next-stream-values] .num'), cli.hidden_states[1][QUERY], 'layer 1: the stream leaving the block');
  await page.click('[data-testid=step-list] li:nth-child(7) button');
  await page.waitForSelector('[data-testid=step-7]');
  assertClose(await values(page, '.vector[data-kind=concatenated] .cell'), cli.head_outputs[0].flatMap((heads) => heads[QUERY]),
    'layer 1: all heads side by side');
  assertClose(await values(page, '.vector[data-kind=attention-output] .cell'), cli.attention_outputs[0][QUERY], 'layer 1: attention output');

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: 'test-artifacts/step-7-phone-390.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('Play keeps running only while the step-through is open: switching tabs mid-play raises no error', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.fill('[data-testid=text]', TEXT);
  await page.waitForSelector('[data-testid=step-1]');
  await page.click('[data-testid=step-play]');
  // The panel closes while Play sleeps before its next step; the tick after that used to read a
  // disposed signal and panic.
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=panel-heatmaps]');
  await page.waitForTimeout(2_500);
  await page.click('[data-testid=tab-step]');
  await page.waitForSelector('[data-testid=stepper]');
  assert.deepEqual(errors, []);
  await context.close();
});
