// The date translator the set-up places in models/ (assets/date-translator): it opens offline
// with only the translation panel, writes the held-out date a student types, replays it, and
// its cross-attention, decoder attention and saliency show the trace CLI's numbers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { download, hoverMatrix, openPage, start, traceCli, waitShape } from './support.mjs';

const FOLDER = 'date-translator';
const MODEL = '../../assets/date-translator'; // traceCli reads tests/fixtures/<model>
const TOLERANCE = 1e-4;
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

test('the offline translator writes a held-out date and shows the CLI’s cross-attention, decoder attention and saliency', async () => {
  assert.ok(existsSync(`dist/models/${FOLDER}/model.safetensors`), 'scripts/fetch-assets.sh places the translator in public/models');
  const [pair] = JSON.parse(readFileSync('assets/date-translator/held_out.json', 'utf8'));
  const cli = traceCli(MODEL, pair.source, ['--decoder-text', pair.target]);

  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:${FOLDER}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 120_000 });
  await page.waitForSelector('[data-testid=panel-translation]');
  const tabs = await page.$$eval('[role=tab]', (nodes) => nodes.map((n) => n.dataset.testid));
  assert.deepEqual(tabs, ['tab-translation', 'tab-anatomy', 'tab-sandbox'], 'an encoder–decoder offers its translation panel, its anatomy and the sandbox');

  await page.fill('[data-testid=text]', pair.source);
  await page.click('[data-testid=translate]');
  await page.waitForFunction((target) => document.querySelector('[data-testid=target]')?.value === target, pair.target);
  const written = await page.$$eval('[data-testid=written-token]', (nodes) => nodes.map((n) => n.textContent));
  assert.equal(written.length, cli.decoder_input_ids.length, 'the written tokens: ▁, the characters and </s>');

  // The cross-attention of layer 1, head 1 (the default), after the replay shows every row.
  const rows = cli.decoder_input_ids.length;
  const columns = cli.encoder_input_ids.length;
  await waitShape(page, 'pair-heatmap', `${rows} ${columns}`);
  for (const [row, column] of [[0, 0], [3, columns - 1], [rows - 1, 2]]) {
    const shown = await hoverMatrix(page, 'pair-heatmap', row, column);
    assert.ok(Math.abs(shown - cli.cross_attentions[0][0][row][column]) < TOLERANCE, `cross ${row},${column}`);
  }
  await page.screenshot({ path: 'test-artifacts/translation-cross.png', fullPage: true });

  // A source token pinned under the text box outlines its column of the cross-attention.
  await page.click('[data-testid=token][data-index="1"]');
  await page.waitForSelector('[data-testid=pair-heatmap][data-highlight-key="1"]');

  // Layer 2, head 4 (its thumbnail in the overview): the head that aligns the year's digits
  // with the year's words.
  assert.equal(await page.$$eval('[data-testid^=pair-thumb-]', (n) => n.length), 2 * 4);
  await page.click('[data-testid=pair-thumb-1-3]');
  await page.waitForSelector('[data-testid=pair-heatmap][data-layer="1"][data-head="3"]');
  const shown = await hoverMatrix(page, 'pair-heatmap', 2, 5);
  assert.ok(Math.abs(shown - cli.cross_attentions[1][3][2][5]) < TOLERANCE);

  // The decoder's self-attention is causal: a later target token is masked.
  await page.check('[data-testid=kind-decoder]');
  await waitShape(page, 'pair-heatmap', `${rows} ${rows}`);
  assert.ok(Math.abs(await hoverMatrix(page, 'pair-heatmap', 4, 2) - cli.decoder_attentions[1][3][4][2]) < TOLERANCE);
  await hoverMatrix(page, 'pair-heatmap', 2, 4);
  const masked = await page.$eval('[data-testid=pair-heatmap-tooltip]', (n) => n.dataset.kind);
  assert.equal(masked, 'masked');

  // Marian adds the sinusoids: the decoder's rows are the CLI's position embeddings.
  await page.check('[data-testid=kind-cross]');
  await page.waitForSelector('[data-testid=pair-position-embeddings]');
  assert.ok(Math.abs(await hoverMatrix(page, 'pair-position-embeddings', 2, 5) - cli.decoder_position_embeddings[2][5]) < TOLERANCE);

  // Pin target position 2: saliency over source and target, two rows summing to 1.
  await page.check('[data-testid=kind-cross]');
  await page.click('[data-testid=target-token][data-index="2"]');
  await page.waitForSelector('[data-testid=saliency-source]');
  await page.waitForSelector('[data-testid=pinned-target] h3:not(:empty)');
  await page.screenshot({ path: 'test-artifacts/translation-saliency.png', fullPage: true });

  // The step-through of the pinned token's cross-attention: Marian divides q·k by √dₖ.
  await page.click('[data-testid=pair-step] .step-list li:nth-child(3) button');
  await page.waitForSelector('[data-testid=pair-step] [data-testid=step-3]');
  const scores = await page.$$eval('[data-testid=pair-step] .num[data-kind=score]', (nodes) => nodes.map((n) => Number(n.dataset.value)));
  assert.equal(scores.length, columns);
  scores.forEach((s, i) => assert.ok(Math.abs(s - cli.cross_scores[1][3][2][i]) < TOLERANCE, `scaled score ${i}`));
  assert.deepEqual(errors, []);
  await context.close();
});

test('a link opens a translation view (source, target, attention, layer, head, pinned target token) and the address follows it', async () => {
  const [, pair] = JSON.parse(readFileSync('assets/date-translator/held_out.json', 'utf8'));
  const target = pair.target.slice(0, 7);
  const cli = traceCli(MODEL, pair.source, ['--decoder-text', target]);
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const query = `?model=folder:${FOLDER}&source=${encodeURIComponent(pair.source)}&target=${encodeURIComponent(target)}` +
    '&attention=decoder&layer=2&head=3&token=4&lang=zh';
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 120_000 });
  await page.waitForSelector('[data-testid=pair-heatmap][data-kind="DecoderSelf"][data-layer="1"][data-head="2"]');
  assert.equal(await page.inputValue('[data-testid=text]'), pair.source);
  assert.equal(await page.inputValue('[data-testid=target]'), target);
  assert.ok(await page.isChecked('[data-testid=kind-decoder]'));
  await page.waitForSelector('[data-testid=target-token][data-index="4"].pinned');
  const rows = cli.decoder_input_ids.length;
  await waitShape(page, 'pair-heatmap', `${rows} ${rows}`);
  assert.ok(Math.abs(await hoverMatrix(page, 'pair-heatmap', 4, 1) - cli.decoder_attentions[1][2][4][1]) < TOLERANCE);
  assert.match(await page.textContent('[data-testid=pair-heatmap-title]'), /解码器自注意力/);
  // The address follows the view: choose cross-attention, and the link says so.
  await page.check('[data-testid=kind-cross]');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('attention') === 'cross');
  const address = new URLSearchParams(await page.evaluate(() => location.search));
  assert.equal(address.get('source'), pair.source);
  assert.equal(address.get('target'), target);
  assert.equal(address.get('token'), '4');
  assert.equal(address.get('panel'), 'translation');
  assert.deepEqual(errors, []);
  await context.close();
});

test('T5 (the fixture): the encoder’s relative position bias of the chosen head is the CLI’s', async () => {
  assert.ok(existsSync('dist/models/fixture-t5/model.safetensors'), 'scripts/test.sh serves the T5 fixture');
  const source = 'Attention is all you need.';
  const cli = traceCli('t5', source);
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { page, errors } = await openPage(context, site.origin,
    `?model=folder:fixture-t5&source=${encodeURIComponent(source)}&attention=encoder&head=3`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  const n = cli.encoder_input_ids.length;
  await waitShape(page, 'pair-position-bias', `${n} ${n}`);
  for (const [q, k] of [[0, n - 1], [n - 1, 0], [3, 3]]) {
    const shown = await hoverMatrix(page, 'pair-position-bias', q, k);
    assert.ok(Math.abs(shown - cli.encoder_position_bias[2][q][k]) < TOLERANCE, `bias ${q},${k}`);
  }
  assert.equal(await page.$('[data-testid=pair-position-embeddings]'), null, 'T5 adds no position to its input');
  // Beyond the sentence: the bucket of every distance up to the model's reach, and each head's bias.
  const relative = cli.encoder_relative_positions;
  const buckets = JSON.parse((await download(page, 'pair-buckets-json')).bytes.toString('utf8'));
  assert.deepEqual(buckets.rows.map((r) => Number(r.label)), relative.distances);
  assert.deepEqual(buckets.rows.map((r) => r.values[0]), relative.buckets);
  const bias = JSON.parse((await download(page, 'pair-bias-by-distance-json')).bytes.toString('utf8'));
  assert.equal(bias.columns.length, relative.bias.length, 'one line per head');
  bias.rows.forEach((row, d) => row.values.forEach((value, h) =>
    assert.ok(Math.abs(value - relative.bias[h][d]) < TOLERANCE, `head ${h}, distance ${relative.distances[d]}`)));
  await page.screenshot({ path: 'test-artifacts/translation-t5-bias.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('T5 (the fixture): the step-through of cross, decoder and encoder attention shows the CLI’s numbers, padding masked', async () => {
  // "<pad>" typed in the source is T5's padding token: the encoder and the cross-attention hide it.
  const [source, target] = ['Attention <pad> is all', 'Hi there'];
  const [LAYER, HEAD, QUERY] = [1, 2, 3];
  const cli = traceCli('t5', source, ['--decoder-text', target]);
  const padding = cli.source_visible.filter((visible) => !visible).length;
  assert.equal(padding, 1, 'the fixture tokenizer reads <pad> as the padding token');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { page, errors } = await openPage(context, site.origin,
    `?model=folder:fixture-t5&source=${encodeURIComponent(source)}&target=${encodeURIComponent(target)}` +
    `&attention=cross&layer=${LAYER + 1}&head=${HEAD + 1}&token=${QUERY}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  const step = (selector) => `[data-testid=pair-step] ${selector}`;
  const values = async (selector) => (await page.$$eval(step(selector), (nodes) => nodes.map((n) => n.dataset.value)))
    .map((text) => (text === '-inf' ? -Infinity : Number(text)));
  const close = (shown, expected, what) => {
    assert.equal(shown.length, expected.length, `${what}: count`);
    shown.forEach((value, i) => {
      if (expected[i] === null) assert.equal(value, -Infinity, `${what}[${i}] must be −∞`);
      else assert.ok(Math.abs(value - expected[i]) <= TOLERANCE, `${what}[${i}]: shown ${value}, trace CLI ${expected[i]}`);
    });
  };
  const goTo = async (number) => {
    await page.click(step(`.step-list li:nth-child(${number}) button`));
    await page.waitForSelector(step(`[data-testid=step-${number}]`));
  };
  await page.waitForFunction(() => /Layer 2, head 3.*position 3/.test(
    document.querySelector('[data-testid=pair-step] [data-testid=step-header]')?.textContent ?? ''));

  // The line view: every head of layer 2, the pinned target token's lines only (source left).
  const visible = (rows) => rows.flat().filter((w) => w >= 0.01).length;
  const lines = (count) => page.waitForFunction((n) => document.querySelector('[data-testid=line-view]')?.dataset.lines === String(n), count);
  await lines(visible(cli.cross_attentions[LAYER].map((head) => head[QUERY])));
  await page.click('[data-testid=line-only-selected]');
  await lines(visible([cli.cross_attentions[LAYER][HEAD][QUERY]]));
  await page.locator('[data-testid=line-view]').screenshot({ path: 'test-artifacts/translation-lines-cross.png' });
  const linesSvg = (await download(page, 'lines-export-svg')).bytes.toString('utf8');
  assert.ok(linesSvg.indexOf('Source') >= 0 && linesSvg.indexOf('Target') >= 0, 'the columns are titled');

  // Cross: q from the decoder (target token 3), k and v from the encoder's output (every source token).
  await goTo(1);
  close(await values('[data-testid=cross-query] .vector[data-kind=q] .cell'), cli.cross_q[LAYER][HEAD][QUERY], 'cross q');
  close(await values('[data-testid=qkv] .vector[data-kind=k] .cell'), cli.cross_k[LAYER][HEAD].flat(), 'cross k');
  close(await values('[data-testid=qkv] .vector[data-kind=v] .cell'), cli.cross_v[LAYER][HEAD].flat(), 'cross v');
  await goTo(2);
  close(await values('.num[data-kind=dot]'), cli.cross_scores[LAYER][HEAD][QUERY], 'q·k (T5 does not scale)');
  await goTo(3);
  assert.match(await page.textContent(step('.step-list li.current')), /No scaling \(T5\)/);
  await goTo(4);
  close(await values('.num[data-kind=masked]'), cli.cross_masked_scores[LAYER][HEAD][QUERY], 'cross masked scores');
  assert.match(await page.textContent(step('[data-testid=step-4]')), /1 source token\(s\) are padding/);
  await goTo(5);
  close(await values('.num[data-kind=prob]'), cli.cross_attentions[LAYER][HEAD][QUERY], 'cross weights');
  await page.screenshot({ path: 'test-artifacts/translation-step-cross-softmax.png', fullPage: true });
  await goTo(6);
  close(await values('[data-testid=head-output] .num'), cli.cross_head_outputs[LAYER][HEAD][QUERY], 'cross head output');
  await goTo(7);
  close(await values('.vector[data-kind=concatenated] .cell'), cli.cross_head_outputs[LAYER].flatMap((h) => h[QUERY]), 'heads side by side');
  close(await values('.vector[data-kind=attention-output] .cell'), cli.cross_attention_outputs[LAYER][QUERY], 'cross attention output');

  // Past cross-attention, the same target token through the rest of the decoder block.
  const ff = (stack, field, token) => cli[`${stack}_${field}`][LAYER][token];
  await goTo(8);
  close(await values('.vector[data-kind=norm-input] .cell'), ff('decoder', 'ln2_inputs', QUERY), 'decoder: the residual sum r');
  close(await values('.vector[data-kind=gamma] .cell'), cli.decoder_ln2_weights[LAYER], 'decoder: γ');
  close(await values('[data-testid=normed-values] .num'), ff('decoder', 'ln2_outputs', QUERY), 'decoder: the normed row');
  assert.ok(await page.$(step('[data-testid=after-cross]')), 'the decoder note says cross-attention comes first');
  assert.equal(await page.$(step('[data-testid=norm-statistics] .num[data-kind=mean]')), null, 'T5 norms by the RMS: no μ');
  await goTo(9);
  close(await values('[data-testid=pre-activation-values] .num'), ff('decoder', 'mlp_pre_activations', QUERY), 'decoder: gate');
  await goTo(10);
  close(await values('[data-testid=activation-values] .num'), ff('decoder', 'mlp_activations', QUERY), 'decoder: activations');
  assert.match(await page.textContent(step('[data-testid=step-10]')), /GEGLU/, 'the fixture is gated-gelu, as flan-t5');
  await page.screenshot({ path: 'test-artifacts/translation-step-decoder-activation.png', fullPage: true });
  await goTo(11);
  close(await values('[data-testid=ffn-output-values] .num'), ff('decoder', 'mlp_outputs', QUERY), 'decoder: f');
  close(await values('[data-testid=next-stream-values] .num'), cli.decoder_hidden_states[LAYER + 1][QUERY], 'decoder: the stream leaving the block');
  assert.ok(await page.$eval(step('[data-testid=step-next]'), (b) => b.disabled), 'a translator has no step 12');

  // Decoder self-attention: T5 adds its position bias instead of dividing by √dₖ, and hides later tokens.
  await page.check('[data-testid=kind-decoder]');
  await goTo(3);
  await page.waitForSelector(step('.num[data-kind=bias]'));
  close(await values('.num[data-kind=bias]'), cli.decoder_position_bias[HEAD][QUERY], 'decoder position bias');
  await goTo(4);
  const masked = await values('.num[data-kind=masked]');
  close(masked, cli.decoder_masked_scores[LAYER][HEAD][QUERY], 'decoder masked scores (bias included)');
  assert.equal(masked.filter((m) => m === -Infinity).length, cli.decoder_input_ids.length - QUERY - 1, 'later tokens are masked');

  // Encoder self-attention: the query is the source token pinned under the text box.
  await page.check('[data-testid=kind-encoder]');
  await page.click('[data-testid=token][data-index="2"]');
  await page.waitForFunction(() => /position 2/.test(
    document.querySelector('[data-testid=pair-step] [data-testid=step-header]')?.textContent ?? ''));
  close(await values('.num[data-kind=masked]'), cli.encoder_masked_scores[LAYER][HEAD][2], 'encoder masked scores');
  await goTo(8);
  close(await values('.vector[data-kind=norm-input] .cell'), ff('encoder', 'ln2_inputs', 2), 'encoder: the residual sum r');
  assert.equal(await page.$(step('[data-testid=after-cross]')), null, 'no cross-attention in the encoder');
  await goTo(10);
  close(await values('[data-testid=activation-values] .num'), ff('encoder', 'mlp_activations', 2), 'encoder: activations');
  await goTo(11);
  close(await values('[data-testid=ffn-output-values] .num'), ff('encoder', 'mlp_outputs', 2), 'encoder: f');
  assert.equal(cli.encoder_hidden_states.length, LAYER + 2, 'layer 2 is the encoder\'s last');
  assert.equal(await page.$(step('[data-testid=next-stream-values]')), null, "the encoder's last stream is given after its final norm");
  await goTo(4);
  await page.screenshot({ path: 'test-artifacts/translation-step-encoder-mask.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('T5 (the fixture): beam search of width 3 writes the CLI’s ids', async () => {
  const source = 'Attention is all you need.';
  const cli = traceCli('t5', source, ['--generate', '48', '--beams', '3']);
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-t5&source=${encodeURIComponent(source)}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.selectOption('[data-testid=decoding]', '3');
  await page.click('[data-testid=translate]');
  const written = cli.generated.length - 1; // after the decoder start token
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=written-token]').length === n, written);
  const ids = await page.$$eval('[data-testid=written-token]', (nodes) => nodes.map((n) => Number(n.dataset.id)));
  assert.deepEqual(ids, cli.generated.slice(1));
  assert.deepEqual(errors, []);
  await context.close();
});

test('T5 (the fixture) with cross-attention heads switched off shows and writes the CLI’s --ablate-cross numbers', async () => {
  const source = 'Hello world, the cat sat on the mat.';
  const target = 'Hallo Welt';
  const cli = (heads, extra = []) => traceCli('t5', source, ['--decoder-text', target, '--ablate-cross', heads, ...extra]);
  const both = cli('1:2,2:4', ['--generate', '48']);
  const one = cli('2:4');
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const query = `?model=folder:fixture-t5&source=${encodeURIComponent(source)}&target=${encodeURIComponent(target)}` +
    '&attention=cross&layer=3&head=1&ablate_cross=1:2,2:4';
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=lab-banner]');
  const rows = both.decoder_input_ids.length;
  const columns = both.encoder_input_ids.length;
  await waitShape(page, 'pair-heatmap', `${rows} ${columns}`);
  // Layer 3's cross-attention reads a decoder stream that layers 1 and 2 changed.
  const cells = [[1, 0], [rows - 1, columns - 1], [2, 3]];
  // The shown cells equal `reference`'s, once the trace asked for last has arrived (the heatmap
  // keeps the previous trace until then).
  const near = async (reference, what) => {
    let gaps = [];
    for (let attempt = 0; attempt < 50; attempt += 1) {
      gaps = [];
      for (const [row, column] of cells) {
        const shown = await hoverMatrix(page, 'pair-heatmap', row, column);
        gaps.push(Math.abs(shown - reference.cross_attentions[2][0][row][column]));
      }
      if (gaps.every((gap) => gap < TOLERANCE)) return;
      await page.waitForTimeout(100);
    }
    assert.fail(`${what}: the shown cells differ from the CLI's by ${gaps.join(', ')}`);
  };
  await near(both, 'heads 1:2 and 2:4 off');
  const pressed = (layer, head) => page.getAttribute(`[data-testid=pair-head-switch][data-layer="${layer}"][data-head="${head}"]`, 'aria-pressed');
  assert.equal(await pressed(0, 1), 'true');
  assert.equal(await pressed(1, 3), 'true');
  await page.screenshot({ path: 'test-artifacts/translation-heads-off.png', fullPage: true });

  // Switching head 1:2 back on: the link and the numbers follow.
  await page.click('[data-testid=pair-head-switch][data-layer="0"][data-head="1"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('ablate_cross') === '2:4');
  await near(one, 'head 2:4 off');

  // With both heads off again, the model writes the CLI's ids.
  await page.click('[data-testid=pair-head-switch][data-layer="0"][data-head="1"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('ablate_cross') === '1:2,2:4');
  await page.click('[data-testid=translate]');
  const written = both.generated.length - 1;
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=written-token]').length === n, written);
  const ids = await page.$$eval('[data-testid=written-token]', (nodes) => nodes.map((n) => Number(n.dataset.id)));
  assert.deepEqual(ids, both.generated.slice(1));
  assert.deepEqual(errors, []);
  await context.close();
});

test('T5 (the fixture) in Chinese at phone width: "all but this head" switches off every other cross head, as the CLI does', async () => {
  const source = 'Hello world, the cat sat on the mat.';
  const target = 'Hallo Welt';
  const context = await site.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const query = `?model=folder:fixture-t5&lang=zh&source=${encodeURIComponent(source)}&target=${encodeURIComponent(target)}` +
    '&attention=cross&layer=3&head=2';
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=pair-all-but]');
  assert.match(await page.textContent('[data-testid=pair-all-but]'), /3:2/);
  await page.click('[data-testid=pair-all-but]');
  // The fixture's decoder has 3 layers of 4 heads: all but 3:2 is 11 heads.
  const everyOther = [];
  for (let layer = 1; layer <= 3; layer += 1) {
    for (let head = 1; head <= 4; head += 1) if (!(layer === 3 && head === 2)) everyOther.push(`${layer}:${head}`);
  }
  await page.waitForFunction((list) => new URL(location.href).searchParams.get('ablate_cross') === list, everyOther.join(','));
  assert.match(await page.textContent('[data-testid=lab-banner]'), /交叉注意力/);
  const cli = traceCli('t5', source, ['--decoder-text', target, '--ablate-cross', everyOther.join(',')]);
  const rows = cli.decoder_input_ids.length;
  const columns = cli.encoder_input_ids.length;
  await waitShape(page, 'pair-heatmap', `${rows} ${columns}`);
  // Layer 3 head 2 is the one cross head left; the decoder stream it reads changed before it.
  let gap = Infinity;
  for (let attempt = 0; attempt < 50 && gap >= TOLERANCE; attempt += 1) {
    const shown = await hoverMatrix(page, 'pair-heatmap', 1, 2);
    gap = Math.abs(shown - cli.cross_attentions[2][1][1][2]);
    if (gap >= TOLERANCE) await page.waitForTimeout(100);
  }
  assert.ok(gap < TOLERANCE, `the shown cell differs from the CLI's by ${gap}`);
  // "All of layer 3" then "all back on".
  await page.click('[data-testid=pair-layer-off]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('ablate_cross') === '3:1,3:2,3:3,3:4');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling: ${overflow}px`);
  await page.screenshot({ path: 'test-artifacts/translation-heads-off-zh-390.png', fullPage: true });
  await page.click('[data-testid=pair-all-on]');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('ablate_cross'));
  await page.waitForSelector('[data-testid=lab-banner]', { state: 'detached' });
  assert.deepEqual(errors, []);
  await context.close();
});
