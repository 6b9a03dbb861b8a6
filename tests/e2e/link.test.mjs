// The link carries the view: a link opens the model, text, layer, head, pinned token, panel,
// step and sampling settings it names; the address follows every change so a reload (or a
// copied link) comes back to the same view; parameters it cannot use fall back with a notice.
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

const TEXT = 'The cat sat on the mat.';

async function view(page) {
  return page.evaluate(() => ({
    layer: document.querySelector('[data-testid=layer]').value,
    head: document.querySelector('[data-testid=head]').value,
    text: document.querySelector('[data-testid=text]').value,
    panel: document.querySelector('[role=tabpanel]').dataset.testid,
    pinned: document.querySelector('[data-testid=token][aria-pressed=true]')?.dataset.index ?? null,
  }));
}

test('a link opens the view it names, the address follows the view, and a reload restores it', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const query = `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}&layer=2&head=3&token=4&panel=step&step=5&temperature=1.5&top_k=7&top_p=0.8&seed=9`;
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=token][aria-pressed=true]');
  assert.deepEqual(await view(page), { layer: '1', head: '2', text: TEXT, panel: 'panel-step', pinned: '4' });
  await page.waitForSelector('[data-testid=step-5]');
  assert.match(await page.textContent('[data-testid=step-header]'), /Layer 2, head 3.*position 4/);
  await page.click('[data-testid=tab-predictions]');
  assert.match(await page.textContent('[data-testid=sampling]'), /1\.5/);
  assert.equal(await page.inputValue('[data-testid=top-k]'), '7');
  assert.equal(await page.inputValue('[data-testid=seed]'), '9');

  // Change the view; the address follows.
  await page.selectOption('[data-testid=layer]', { value: '0' });
  await page.selectOption('[data-testid=head]', { value: '1' });
  await page.click('[data-testid=token][data-index="2"]');
  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('panel') === 'heatmaps');
  const address = new URL(page.url());
  assert.equal(address.searchParams.get('layer'), '1');
  assert.equal(address.searchParams.get('head'), '2');
  assert.equal(address.searchParams.get('token'), '2');
  assert.equal(address.searchParams.get('model'), 'folder:fixture-gpt2');
  assert.equal(address.searchParams.get('text'), TEXT);

  // The copied link is that address.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.origin });
  await page.click('[data-testid=copy-link]');
  await page.waitForSelector('[data-testid=copy-link]:has-text("copied")');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), page.url());

  // Reload: the same view.
  await page.reload();
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=token][aria-pressed=true]');
  assert.deepEqual(await view(page), { layer: '0', head: '1', text: TEXT, panel: 'panel-heatmaps', pinned: '2' });
  assert.deepEqual(errors, []);
  await context.close();
});

test("Ecco's views from a link: the followed neuron, the NMF's factors and layers, the watched words", async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const query = `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}&panel=neurons&neuron=7&factors=3&factor_layers=2-2&watch=the,cat`;
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=neuron-tokens][data-neuron="7"]');
  await page.waitForSelector('[data-testid=nmf-summary][data-factors="3"]');
  assert.match(await page.textContent('[data-testid=nmf-summary]'), /Layers 2–2/);
  // The address keeps them, and follows a new factor count.
  await page.$eval('[data-testid=nmf-factors]', (input) => {
    input.value = '5';
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await page.waitForFunction(() => new URL(location.href).searchParams.get('factors') === '5');
  const address = new URL(page.url()).searchParams;
  assert.deepEqual([address.get('neuron'), address.get('factor_layers'), address.get('watch')], ['7', '2-2', 'the,cat']);
  // The rankings watch the linked words.
  await page.click('[data-testid=tab-rankings]');
  assert.equal(await page.inputValue('[data-testid=rankings-watch]'), 'the, cat');
  await page.waitForFunction(() => document.querySelector('[data-testid=rankings-watched]')?.dataset.ranks?.split(' ').length === 2 * 3);
  assert.deepEqual(errors, []);
  await context.close();
});

test('parameters out of range or not understood fall back to the defaults with a notice', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const query = `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}&layer=99&head=-1&temperature=NaN&panel=nope&token=500&step=0`;
  const { page, errors } = await openPage(context, site.origin, query);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=token]');
  await page.waitForFunction(() => document.querySelector('[data-testid=notice]')?.textContent.includes('token 500'));
  const notice = await page.textContent('[data-testid=notice]');
  for (const bad of ['head=-1', 'temperature=NaN', 'panel=nope', 'step=0', 'layer 99', 'token 500']) {
    assert.ok(notice.includes(bad), `the notice names ${bad}: ${notice}`);
  }
  assert.deepEqual(await view(page), { layer: '0', head: '0', text: TEXT, panel: 'panel-step', pinned: null });
  await page.click('[data-testid=tab-predictions]');
  assert.match(await page.textContent('[data-testid=sampling]'), /temperature\s*1\.0/);
  assert.deepEqual(errors, []);
  await context.close();
});
