// Trunk post-build hook: moves the inline start-up <script> Trunk writes into index.html to a
// file of its own, so the page runs under a Content-Security-Policy without 'unsafe-inline'
// (`script-src 'self' 'wasm-unsafe-eval'`). The file gets the Subresource Integrity Trunk gives
// the files it links (sha384), so a changed copy is refused like theirs. Trunk sets
// TRUNK_STAGING_DIR for hooks.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error('externalize-scripts: run me as a Trunk post_build hook (TRUNK_STAGING_DIR is not set)');
  process.exit(1);
}
const page = join(dir, 'index.html');
let count = 0;
const html = readFileSync(page, 'utf8').replace(/<script type="module">([\s\S]*?)<\/script>/g, (_, code) => {
  const name = count === 0 ? 'start.js' : `start-${count}.js`;
  count += 1;
  const file = code.trim() + '\n';
  writeFileSync(join(dir, name), file);
  const integrity = `sha384-${createHash('sha384').update(file).digest('base64')}`;
  return `<script type="module" src="./${name}" integrity="${integrity}"></script>`;
});
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) {
  console.error('externalize-scripts: index.html still has an inline script');
  process.exit(1);
}
writeFileSync(page, html);
console.log(`externalize-scripts: moved ${count} inline script(s) out of index.html`);
