// The date translator the set-up places in models/ (assets/date-translator): it opens offline
// with only the translation panel, writes the held-out date a student types, replays it, and
// its cross-attention, decoder attention and saliency show the trace CLI's numbers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hoverMatrix, openPage, start, traceCli, waitShape } from './support.mjs';

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
  assert.deepEqual(tabs, ['tab-translation'], 'an encoder–decoder offers its translation panel only');

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
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
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
  await page.screenshot({ path: 'test-artifacts/translation-t5-bias.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
