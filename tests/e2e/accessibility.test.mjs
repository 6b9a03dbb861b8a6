// Accessibility: axe-core finds no serious or critical violation on any panel in either theme;
// a keyboard alone reaches and operates the token chips, the step-through, the tabs and the
// heatmap's table; phones: 390 px wide, touch pins tokens, distilgpt2 is asked for first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, start } from './support.mjs';

const TEXT = 'The cat sat on the mat.';
const PANELS = ['step', 'heatmaps', 'positions', 'predictions', 'saliency', 'neurons', 'rankings', 'lab', 'anatomy'];
let site;
before(async () => {
  mkdirSync('test-artifacts', { recursive: true });
  site = await start();
});
after(async () => site?.close());

async function open(options, query = '') {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const opened = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}${query}`);
  await opened.page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await opened.page.waitForSelector('[data-testid=step-header]');
  return { ...opened, context };
}

/** Serious and critical axe violations on the page, as readable lines. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ path: 'node_modules/axe-core/axe.min.js' });
  }
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

for (const scheme of ['light', 'dark']) {
  test(`axe: no serious or critical violations on any panel (${scheme})`, async () => {
    const { page, errors, context } = await open({ colorScheme: scheme });
    assert.equal(await page.getAttribute('html', 'data-theme'), scheme);
    await page.click('summary:has-text("Choose another model")');
    const found = [];
    for (const panel of PANELS) {
      await page.click(`[data-testid=tab-${panel}]`);
      if (panel === 'heatmaps') {
        await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
        await page.click('summary:has-text("Values as a table")');
        await page.waitForSelector('[data-testid=heatmap-table]');
      }
      if (panel === 'predictions') await page.waitForSelector('[data-testid=logit-lens]');
      if (panel === 'saliency') await page.waitForSelector('[data-testid=saliency-bars]');
      if (panel === 'positions') await page.waitForSelector('[data-testid=token-plus-position]');
      for (const line of await axeViolations(page)) found.push(`${panel}: ${line}`);
    }
    assert.deepEqual(found, []);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('axe: no serious or critical violations on the translation panel (light and dark)', async () => {
  const found = [];
  for (const colorScheme of ['light', 'dark']) {
    const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
    const source = 'the twenty first of march nineteen ninety nine';
    const { page, errors } = await openPage(context, site.origin,
      `?model=folder:date-translator&source=${encodeURIComponent(source)}&target=1999-03&token=2`);
    await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
    await page.waitForSelector('[data-testid=pair-heatmap][data-plot*=" "]');
    await page.waitForSelector('[data-testid=saliency-source]');
    await page.click('summary:has-text("Values as a table")');
    for (const line of await axeViolations(page)) found.push(`${colorScheme}: ${line}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
  assert.deepEqual(found, []);
});

test('axe finds a planted violation (the check can fail)', async () => {
  const { page, context } = await open({});
  await page.evaluate(() => {
    const img = document.createElement('img');
    img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
    document.querySelector('main').append(img);
  });
  const found = await axeViolations(page);
  assert.ok(found.some((line) => line.includes('image-alt')), found.join('\n'));
  await context.close();
});

/** Presses Tab until `matches(activeElement)` holds (at most `limit` times). */
async function tabTo(page, matches, limit = 80) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(matches)) return;
  }
  throw new Error(`Tab never reached ${matches}`);
}

const focusVisible = (page) => page.evaluate(() => {
  const style = getComputedStyle(document.activeElement);
  return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
});

test('keyboard only: pin a token, walk the step-through, open a panel and its table', async () => {
  const { page, errors, context } = await open({});
  await page.focus('body');
  await tabTo(page, () => document.activeElement?.dataset.testid === 'token' && document.activeElement.dataset.index === '0');
  assert.ok(await focusVisible(page), 'the focused token chip shows a focus ring');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=token][data-index="2"][aria-pressed=true]');
  assert.match(await page.textContent('[data-testid=step-header]'), /position 2/);

  await tabTo(page, () => document.activeElement?.dataset.testid === 'stepper');
  assert.ok(await focusVisible(page), 'the step-through shows a focus ring');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-2]');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=step-4]');
  await page.keyboard.press('ArrowLeft');
  await page.waitForSelector('[data-testid=step-3]');
  await tabTo(page, () => document.activeElement?.dataset.testid === 'step-next');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=step-4]');
  await page.keyboard.press('Space');
  await page.waitForSelector('[data-testid=step-5]', { timeout: 5_000 });

  // Back up to the tabs and open the heatmaps with the keyboard.
  await page.keyboard.down('Shift');
  await tabTo(page, () => document.activeElement?.dataset.testid === 'tab-heatmaps');
  await page.keyboard.up('Shift');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=panel-heatmaps]');
  await tabTo(page, () => document.activeElement?.tagName === 'SUMMARY' && document.activeElement.closest('.heatmap'));
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=heatmap-table]');
  await tabTo(page, () => document.activeElement?.dataset.testid === 'thumb-1-0');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid=layer]').value === '1' && document.querySelector('[data-testid=head]').value === '0');
  assert.deepEqual(errors, []);
  await context.close();
});

test('phone: distilgpt2 is asked for first, every panel fits 390 px, a tap pins a token', async () => {
  const phone = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };
  const first = await site.browser.newContext(phone);
  const offline = await openPage(first, site.origin, '');
  await offline.page.waitForFunction(() => true);
  await offline.page.waitForSelector('[data-testid=notice]', { timeout: 60_000 });
  assert.ok(offline.hubRequests.length > 0);
  assert.match(offline.hubRequests[0], /huggingface\.co\/distilbert\/distilgpt2\//, `first Hub request: ${offline.hubRequests[0]}`);
  const suggestions = await offline.page.$$eval('#hub-suggestions option', (nodes) => nodes.map((n) => n.value));
  assert.equal(suggestions[0], 'distilbert/distilgpt2');
  await first.close();

  const { page, errors, context } = await open(phone);
  await page.tap('[data-testid=token][data-index="3"]');
  await page.waitForSelector('[data-testid=token][data-index="3"][aria-pressed=true]');
  for (const panel of PANELS) {
    await page.tap(`[data-testid=tab-${panel}]`);
    await page.waitForSelector(`[data-testid=panel-${panel}]`);
    if (panel === 'heatmaps') await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
    if (panel === 'predictions') await page.waitForSelector('[data-testid=candidate]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${panel} scrolls sideways by ${overflow}px at 390 px`);
    await page.screenshot({ path: `test-artifacts/phone-${panel}-390.png`, fullPage: true });
  }
  assert.deepEqual(errors, []);
  await context.close();
});
