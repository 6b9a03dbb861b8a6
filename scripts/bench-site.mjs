// The benchmark's site, shared by scripts/bench.mjs and scripts/bench-jit.mjs: dist/ plus the
// benchmark's models, onnxruntime-web and the benchmark page, as symlinks in target/bench-site.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** (Re)makes target/bench-site under `root` and returns its path. */
export function makeBenchSite(root) {
  const site = join(root, 'target', 'bench-site');
  rmSync(site, { recursive: true, force: true });
  mkdirSync(site, { recursive: true });
  for (const entry of readdirSync(join(root, 'dist')).filter((entry) => entry !== 'models')) {
    symlinkSync(join(root, 'dist', entry), join(site, entry));
  }
  symlinkSync(join(root, 'bench-models'), join(site, 'bench-models'));
  // models/: the app's own folder models, and the benchmark's as `bench-<name>` (the app opens
  // them with ?model=folder:bench-gpt2-small).
  mkdirSync(join(site, 'models'));
  for (const [from, prefix] of [[join(root, 'dist', 'models'), ''], [join(root, 'bench-models'), 'bench-']]) {
    for (const entry of existsSync(from) ? readdirSync(from) : []) {
      symlinkSync(join(from, entry), join(site, 'models', prefix + entry));
    }
  }
  symlinkSync(join(root, '.cache', 'bench-node', 'node_modules', 'onnxruntime-web', 'dist'), join(site, 'ort'));
  copyFileSync(join(root, 'scripts', 'bench-page.html'), join(site, 'bench.html'));
  return site;
}

/** A fresh benchmark page at `origin`. Playwright opens every page in a browser context of its
 *  own, so in a renderer process of its own; `call(fn, ...params)` runs window.bench[fn] there,
 *  `close()` ends the page and its process. */
export async function openBenchPage(browser, origin, label, log) {
  const page = await browser.newPage();
  page.on('console', (message) => { if (message.type() === 'error') log(`${label} page error:`, message.text()); });
  page.on('pageerror', (error) => log(`${label} page error:`, error.message));
  await page.goto(`${origin}/bench.html`);
  const call = (fn, ...params) => page.evaluate(([fn, params]) => window.bench[fn](...params), [fn, params]);
  return { call, close: () => page.close() };
}
