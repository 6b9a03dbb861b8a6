// The benchmark's site, shared by scripts/bench.mjs and scripts/bench-jit.mjs: dist/ plus the
// benchmark's models, onnxruntime-web and the benchmark page, as symlinks in target/bench-site.
import { copyFileSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** (Re)makes target/bench-site under `root` and returns its path. */
export function makeBenchSite(root) {
  const site = join(root, 'target', 'bench-site');
  rmSync(site, { recursive: true, force: true });
  mkdirSync(site, { recursive: true });
  for (const entry of readdirSync(join(root, 'dist'))) symlinkSync(join(root, 'dist', entry), join(site, entry));
  symlinkSync(join(root, 'bench-models'), join(site, 'bench-models'));
  symlinkSync(join(root, '.cache', 'bench-node', 'node_modules', 'onnxruntime-web', 'dist'), join(site, 'ort'));
  copyFileSync(join(root, 'scripts', 'bench-page.html'), join(site, 'bench.html'));
  return site;
}
