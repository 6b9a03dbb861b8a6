// English and Simplified Chinese (from the link or the browser's language, switchable at run
// time without losing the view) and dark mode (from the system, the toggle or the link; the
// charts are redrawn in the theme's colours).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start } from './support.mjs';

const TEXT = 'The cat sat on the mat.';
let site;
before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});
after(async () => site?.close());

const hasChinese = (text) => /[\u4e00-\u9fff]/.test(text);

async function open(options, query) {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}${query}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await opened.page.waitForSelector('[data-testid=step-header]');
  return { ...opened, context };
}

test('a Chinese browser gets Chinese; the switch changes every panel\'s text and keeps the view', async () => {
  const { page, errors, context } = await open({ locale: 'zh-CN' }, '&layer=2&head=3&token=3');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hans');
  assert.equal(await page.textContent('[data-testid=tab-step]'), '注意力逐步演示');
  assert.match(await page.textContent('[data-testid=step-header]'), /第 2 层，第 3 个头/);
  for (const panel of ['step', 'heatmaps', 'positions', 'predictions', 'saliency']) {
    await page.click(`[data-testid=tab-${panel}]`);
    const heading = await page.textContent('[role=tabpanel] h2');
    assert.ok(hasChinese(heading), `${panel}: heading ${heading}`);
    const paragraphs = await page.$$eval('[role=tabpanel] p.explain, [role=tabpanel] p.caution, [role=tabpanel] .step-body > p:not(.step-header)',
      (nodes) => nodes.map((n) => n.textContent));
    const sentences = paragraphs.filter((text) => text.trim().length >= 20);
    assert.ok(sentences.length > 0 || panel !== 'step', `${panel}: no explanation found`);
    for (const text of sentences) assert.ok(hasChinese(text), `${panel}: untranslated explanation ${text}`);
  }
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('lang') === 'zh');
  await page.screenshot({ path: 'test-artifacts/zh-heatmaps-1280.png', fullPage: true });

  // Switch to English at run time: the same layer, head, pinned token and panel.
  await page.selectOption('[data-testid=language]', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.textContent('[data-testid=tab-heatmaps]'), 'Heatmaps');
  assert.equal(await page.inputValue('[data-testid=layer]'), '1');
  assert.equal(await page.inputValue('[data-testid=head]'), '2');
  assert.equal(await page.getAttribute('[data-testid=token][aria-pressed=true]', 'data-index'), '3');
  assert.equal(await page.getAttribute('[role=tabpanel]', 'data-testid'), 'panel-heatmaps');
  await page.waitForSelector('[data-testid=heatmap-title]:has-text("Layer 2, head 3")');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('lang') === 'en');
  // And back.
  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForSelector('[data-testid=heatmap-title]:has-text("第 2 层")');
  assert.deepEqual(errors, []);
  await context.close();
});

test('switching language re-words the page in place: panel state, charts and messages stay', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}&panel=heatmaps`);
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]', { timeout: 60_000 });
  // Panel-local state: a head switched off in the line view.
  await page.uncheck('[data-testid=line-head-0]');
  // Mark the elements: a rebuilt page would drop the marks.
  await page.$eval('[data-testid=heatmap]', (canvas) => { canvas.dataset.mark = 'kept'; });
  await page.$eval('[data-testid=text]', (box) => { box.dataset.mark = 'kept'; });
  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
  await page.waitForSelector('[data-testid=tab-heatmaps]:has-text("热力图")');
  assert.equal(await page.isChecked('[data-testid=line-head-0]'), false, 'the head stays switched off');
  assert.equal(await page.getAttribute('[data-testid=heatmap]', 'data-mark'), 'kept', 'the heatmap is the same element');
  assert.equal(await page.getAttribute('[data-testid=text]', 'data-mark'), 'kept', 'the text box is the same element');

  // The positions panel's sliders survive a switch too.
  await page.click('[data-testid=tab-positions]');
  await page.$eval('[data-testid=pe-d-model]', (s) => { s.value = '16'; s.dispatchEvent(new Event('change', { bubbles: true })); });
  await page.waitForSelector('[data-testid=pe-sinusoidal][data-shape="64 16"]');
  await page.selectOption('[data-testid=language]', 'en');
  await page.waitForSelector('[data-testid=tab-positions]:has-text("Positional encoding")');
  assert.equal(await page.inputValue('[data-testid=pe-d-model]'), '16');
  assert.equal(await page.getAttribute('[data-testid=pe-sinusoidal]', 'data-shape'), '64 16');
  // A hint shown before the switch is re-worded in place.
  await page.fill('[data-testid=text]', '');
  await page.waitForSelector('[data-testid=empty-hint]');
  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForFunction(() => /[\u4e00-\u9fff]/.test(document.querySelector('[data-testid=empty-hint]').textContent));
  assert.deepEqual(errors, []);
  await context.close();
});

test('a failed load is re-worded when the language changes', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await openPage(context, site.origin, '?model=folder:no-such-model');
  await page.waitForSelector('[data-testid=load-failed]', { timeout: 60_000 });
  const english = await page.textContent('[data-testid=load-failed]');
  assert.ok(!hasChinese(english), english);
  await page.selectOption('[data-testid=language]', 'zh-Hans');
  await page.waitForFunction(() => /[\u4e00-\u9fff]/.test(document.querySelector('[data-testid=load-failed]').textContent));
  assert.ok(hasChinese(await page.textContent('[data-testid=error]')), 'the banner too');
  assert.deepEqual(errors.filter((e) => !/404|no-such-model/.test(e)), []);
  await context.close();
});

test('lang= in the link wins over the browser language; a bad value falls back with a notice', async () => {
  const zh = await open({ locale: 'en-US' }, '&lang=zh');
  assert.equal(await zh.page.getAttribute('html', 'lang'), 'zh-Hans');
  assert.equal(await zh.page.textContent('[data-testid=tab-positions]'), '位置编码');
  assert.deepEqual(zh.errors, []);
  await zh.context.close();
  const bad = await open({ locale: 'en-US' }, '&lang=klingon&theme=plaid');
  assert.equal(await bad.page.getAttribute('html', 'lang'), 'en');
  const notice = await bad.page.textContent('[data-testid=notice]');
  assert.match(notice, /lang=klingon/);
  assert.match(notice, /theme=plaid/);
  await bad.context.close();
});

/** The colour of the canvas pixel at (x, y), as [r, g, b]. */
const pixel = (page, testid, x, y) => page.$eval(`[data-testid=${testid}]`, (canvas, [x, y]) =>
  [...canvas.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)], [x, y]);

test('dark mode follows the system, the toggle switches it (charts too), and the link keeps the choice', async () => {
  const { page, errors, context } = await open({ colorScheme: 'dark' }, '');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(background, 'rgb(18, 20, 22)');
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  await page.waitForFunction(() => true);
  assert.deepEqual(await pixel(page, 'heatmap', 2, 2), [24, 26, 27], 'the heatmap is drawn on the dark background');
  assert.equal(new URL(page.url()).searchParams.get('theme'), null, 'following the system writes no theme');
  await page.screenshot({ path: 'test-artifacts/dark-heatmaps-1280.png', fullPage: true });
  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=candidate]');
  await page.screenshot({ path: 'test-artifacts/dark-predictions-1280.png', fullPage: true });

  await page.click('[data-testid=theme-toggle]');
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForFunction(() => {
    const c = document.querySelector('[data-testid=heatmap]');
    return c && c.getContext('2d').getImageData(2, 2, 1, 1).data[0] === 255;
  });
  await page.waitForFunction(() => new URL(location.href).searchParams.get('theme') === 'light');
  await page.reload();
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('html', 'data-theme'), 'light', 'the link keeps the chosen light theme on a dark system');
  assert.deepEqual(errors, []);
  await context.close();
});
