// Embedding: `embed=1` drops the site header, `panels=` narrows the tabs, `lock=` fixes the model
// and text, the page reports its height so the iframe fits it; the Embed dialog writes a snippet
// that opens the same view embedded; examples/embed.html shows two embeds working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start } from './support.mjs';

let site;
before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});
after(async () => site?.close());

test('examples/embed.html shows two locked, compact embeds that fit their iframes', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, 'examples/embed.html');
  for (const example of ['heatmaps', 'step']) {
    const frame = await (await page.waitForSelector(`iframe[data-example=${example}]`)).contentFrame();
    await frame.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
    assert.equal(await frame.$('.site-header'), null, 'no site header when embedded');
    assert.equal(await frame.$('details.sources'), null, 'the model is locked');
  }
  const heatmaps = await (await page.$('iframe[data-example=heatmaps]')).contentFrame();
  await heatmaps.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  const tabs = await heatmaps.$$eval('[role=tab]', (nodes) => nodes.map((n) => n.dataset.testid));
  assert.deepEqual(tabs, ['tab-heatmaps', 'tab-step']);
  assert.equal(await heatmaps.$eval('[data-testid=text]', (t) => t.readOnly), true, 'the text is locked');
  assert.equal(await heatmaps.$eval('[data-testid=layer]', (s) => s.value), '2');
  // The parent fitted the iframe to the height the page reported.
  await page.waitForFunction(() => {
    const frame = document.querySelector('iframe[data-example=heatmaps]');
    return frame.style.height && Math.abs(parseFloat(frame.style.height) - frame.contentDocument.documentElement.scrollHeight) <= 2;
  });
  await page.screenshot({ path: 'test-artifacts/embed-examples-1280.png', fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the Embed dialog writes an iframe snippet that opens the same view embedded', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:fixture-gpt2&text=The%20cat%20sat&layer=2&head=3&panel=heatmaps');
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.click('[data-testid=embed-open]');
  const snippet = await page.inputValue('[data-testid=embed-snippet]');
  assert.match(snippet, /^<iframe src="[^"]+embed=1[^"]*"/);
  assert.match(snippet, /attention-explorer:height/);
  const src = snippet.match(/src="([^"]+)"/)[1].replaceAll('&amp;', '&');
  const address = new URL(src);
  assert.equal(address.searchParams.get('layer'), '2');
  assert.equal(address.searchParams.get('head'), '3');
  assert.equal(address.searchParams.get('panel'), 'heatmaps');
  const embedded = await openPage(context, address.origin, address.pathname.replace(/^\//, '') + address.search);
  await embedded.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  assert.equal(await embedded.page.$('.site-header'), null);
  assert.equal(await embedded.page.$eval('[data-testid=head]', (s) => s.value), '2');
  assert.equal(await embedded.page.inputValue('[data-testid=text]'), 'The cat sat');
  assert.deepEqual([...errors, ...embedded.errors], []);
  await context.close();
});

test('a translation view embeds: the Embed snippet opens the same pair, attention, head and pinned token', async () => {
  const [source, target] = ['march the fourth two thousand and eight', '2008-'];
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:date-translator&source=${encodeURIComponent(source)}` +
    `&target=${encodeURIComponent(target)}&attention=cross&layer=2&head=4&token=3`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 120_000 });
  await page.waitForSelector('[data-testid=pair-heatmap][data-layer="1"][data-head="3"]');
  await page.click('[data-testid=embed-open]');
  const snippet = await page.inputValue('[data-testid=embed-snippet]');
  const src = snippet.match(/src="([^"]+)"/)[1].replaceAll('&amp;', '&');
  const address = new URL(src);
  for (const [key, value] of [['source', source], ['target', target], ['attention', 'cross'], ['layer', '2'], ['head', '4'], ['token', '3'], ['embed', '1']]) {
    assert.equal(address.searchParams.get(key), value, key);
  }
  // Embedded with the model and the text locked, as a course page would.
  address.searchParams.set('lock', 'model,text');
  const embedded = await openPage(context, address.origin, address.pathname.replace(/^\//, '') + address.search);
  const frame = embedded.page;
  await frame.waitForSelector('[data-testid=model-ready]', { timeout: 120_000 });
  assert.equal(await frame.$('.site-header'), null, 'no site header when embedded');
  assert.equal(await frame.$('details.sources'), null, 'the model is locked');
  assert.equal(await frame.$eval('[data-testid=text]', (t) => t.readOnly), true, 'the source is locked');
  assert.equal(await frame.inputValue('[data-testid=target]'), target);
  await frame.waitForSelector('[data-testid=pair-heatmap][data-kind="Cross"][data-layer="1"][data-head="3"]');
  await frame.waitForSelector('[data-testid=target-token][data-index="3"].pinned');
  const tabs = await frame.$$eval('[role=tab]', (nodes) => nodes.map((n) => n.dataset.testid));
  assert.deepEqual(tabs, ['tab-translation', 'tab-anatomy', 'tab-sandbox'], 'a translator offers its panel, its anatomy and the sandbox');
  await frame.screenshot({ path: 'test-artifacts/embed-translation-1280.png', fullPage: true });
  assert.deepEqual([...errors, ...embedded.errors], []);
  await context.close();
});

test('a lab view embeds: the snippet carries the second sentence, the head statistic and the detector', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const second = encodeURIComponent('The doctor said that he');
  const { page, errors } = await openPage(context, site.origin,
    `?model=folder:fixture-gpt2&text=${encodeURIComponent('The doctor said that she')}&panel=lab&text2=${second}&head_stat=first&induction_seed=3`);
  await page.waitForSelector('[data-testid=compare-second][data-plot*=" "]', { timeout: 60_000 });
  await page.click('[data-testid=embed-open]');
  const snippet = await page.inputValue('[data-testid=embed-snippet]');
  const address = new URL(snippet.match(/src="([^"]+)"/)[1].replaceAll('&amp;', '&'));
  assert.equal(address.searchParams.get('text2'), 'The doctor said that he');
  assert.equal(address.searchParams.get('head_stat'), 'first');
  assert.equal(address.searchParams.get('induction_seed'), '3');
  const embedded = await openPage(context, address.origin, address.pathname.replace(/^\//, '') + address.search);
  await embedded.page.waitForSelector('[data-testid=compare-difference][data-plot*=" "]', { timeout: 60_000 });
  await embedded.page.waitForSelector('[data-testid=induction-map][data-plot*=" "]');
  assert.equal(await embedded.page.$eval('[data-testid=head-stat]', (s) => s.value), 'first');
  assert.equal(await embedded.page.$('.site-header'), null);
  await embedded.page.screenshot({ path: 'test-artifacts/embed-lab.png', fullPage: true });
  assert.deepEqual([...errors, ...embedded.errors], []);
  await context.close();
});
