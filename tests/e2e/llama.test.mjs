// SmolLM2-135M-Instruct, the real Llama-family decoder the set-up places in models/ as one GGUF
// file: it loads offline from its folder, the model card names its grouped key/value heads and
// rotary positions, and the next-token predictions, saliency and step-through show the trace
// CLI's numbers for the same file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { hoverMatrix, openPage, softmax, start, traceCli, waitShape } from './support.mjs';

const FOLDER = 'SmolLM2-135M-Instruct';
const MODEL = `../../public/models/${FOLDER}`; // traceCli reads tests/fixtures/<model>
const TOLERANCE = 1e-4;
let site;

before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});

after(async () => site?.close());

test('SmolLM2 (GGUF) loads from models/; predictions, sampling and saliency work and equal the trace CLI; positions show RoPE with the model’s numbers', async () => {
  assert.ok(existsSync(`dist/models/${FOLDER}/model.gguf`), 'scripts/fetch-assets.sh places SmolLM2 in public/models');
  const TEXT = 'The capital of France is';
  const cli = traceCli(MODEL, TEXT);
  const probabilities = softmax(cli.logits[cli.logits.length - 1]);
  const expected = probabilities.map((p, id) => ({ id, p })).sort((a, b) => b.p - a.p).slice(0, 10);

  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:${FOLDER}`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 180_000 });
  const card = await page.textContent('[data-testid=model-card]');
  assert.match(card, /Llama.*30 layers × 9 heads.*3 key\/value heads, each shared by 3 query heads.*RoPE, θ = 100000/s);

  await page.fill('[data-testid=text]', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);

  // Grouped-query attention, said where the heads are shown: head 5 reads key/value head 2,
  // shared by query heads 4–6, and their keys in the trace are the same numbers.
  await page.selectOption('[data-testid=head]', { label: '5' });
  await page.click('[data-testid=tab-step]');
  await page.waitForSelector('[data-testid=kv-group][data-kv-head="1"]');
  assert.match(await page.textContent('[data-testid=kv-group]'), /3 key\/value heads for 9 query heads\. Query head 5 reads key\/value head 2, which query heads 4–6 share/);
  assert.deepEqual(cli.k[0][3], cli.k[0][5]);
  assert.notDeepEqual(cli.k[0][5], cli.k[0][6]);
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=kv-group][data-kv-head="1"]');
  await page.selectOption('[data-testid=head]', { label: '1' });

  await page.click('[data-testid=tab-predictions]');
  await page.waitForFunction((first) => {
    const node = document.querySelector('[data-testid=candidate]');
    return node && Math.abs(Number(node.dataset.probability) - first) < 1e-4;
  }, expected[0].p, { timeout: 60_000 });
  const shown = await page.$$eval('[data-testid=candidate]', (nodes) => nodes.map((n) => ({ id: Number(n.dataset.tokenId), p: Number(n.dataset.probability) })));
  assert.equal(shown.length, 10);
  shown.forEach((c, rank) => {
    assert.equal(c.id, expected[rank].id, `rank ${rank}: token id`);
    assert.ok(Math.abs(c.p - expected[rank].p) <= TOLERANCE, `rank ${rank}: shown ${c.p}, CLI ${expected[rank].p}`);
  });
  await page.screenshot({ path: 'test-artifacts/predictions-smollm2-1280.png', fullPage: true });

  await page.click('[data-testid=tab-saliency]');
  await page.waitForSelector(`[data-testid=saliency-header][data-target="${cli.saliency.target_id}"]`, { timeout: 120_000 });
  const shares = await page.$$eval('[data-testid=saliency-tokens] .salient', (spans) => spans.map((s) => Number(s.dataset.value)));
  assert.equal(shares.length, cli.saliency.scores.length);
  shares.forEach((share, i) => assert.ok(Math.abs(share - cli.saliency.scores[i]) <= TOLERANCE, `saliency[${i}]: shown ${share}, CLI ${cli.saliency.scores[i]}`));
  await page.screenshot({ path: 'test-artifacts/saliency-smollm2-1280.png', fullPage: true });

  // Generation: sampling appends a drawn token, which is one of the survivors, and re-traces.
  await page.click('[data-testid=tab-predictions]');
  await page.click('[data-testid=sample]');
  await page.waitForSelector('[data-testid=generated]', { timeout: 60_000 });
  const grown = await page.inputValue('[data-testid=text]');
  assert.ok(grown.startsWith(TEXT) && grown.length > TEXT.length, `sampling grew the text: ${grown}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length > n, cli.input_ids.length, { timeout: 60_000 });
  await page.fill('[data-testid=text]', TEXT);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=token]').length === n, cli.input_ids.length);

  await page.click('[data-testid=tab-positions]');
  await page.waitForSelector('[data-testid=pe-rotary-note]');
  assert.match(await page.textContent('[data-testid=pe-rotary-note]'), /RoPE, θ = 100000/);
  assert.equal(await page.isVisible('[data-testid=pe-learned]'), false, 'no learned table is shown for a rotary model');
  assert.equal(await page.isVisible('[data-testid=token-plus-position]'), false, 'nothing is added to the input');
  // The RoPE view uses the pinned token's real query and the first token's real key (layer 1,
  // head 1): placed at their own positions the score is the trace's; it is the same along
  // every diagonal (only m − n matters), and θ₀ = 1 radian per position.
  await page.click('[data-testid=token][data-index="3"]');
  await waitShape(page, 'rope-relative', '64 64');
  const own = await hoverMatrix(page, 'rope-relative', 3, 0);
  assert.ok(Math.abs(own - cli.scores[0][0][3][0]) <= 1e-3, `score at (3, 0): shown ${own}, CLI ${cli.scores[0][0][3][0]}`);
  for (const [m, n] of [[10, 2], [40, 7]]) {
    const a = await hoverMatrix(page, 'rope-relative', m, n);
    const b = await hoverMatrix(page, 'rope-relative', m + 5, n + 5);
    assert.ok(Math.abs(a - b) <= 1e-3, `(${m}, ${n}) = ${a} but (${m + 5}, ${n + 5}) = ${b}`);
  }
  assert.ok(Math.abs((await hoverMatrix(page, 'rope-relative', 9, 2)) - (await hoverMatrix(page, 'rope-relative', 2, 9))) > 1e-3, 'm − n, not |m − n|');
  assert.equal(await page.getAttribute('[data-testid=rope-frequencies]', 'data-series'), 'θᵢ (radians per position)');
  assert.equal((await page.getAttribute('[data-testid=rope-rotation]', 'data-series')).split(',').length, 4);
  await page.screenshot({ path: 'test-artifacts/positions-smollm2-1280.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
