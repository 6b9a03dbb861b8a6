// The last step of Trunk's post-build hook (scripts/post-build.sh): writes the app shell's file
// list and version into the built service-worker.js, so the browser installs it again whenever a
// shell file changes. The shell is every file of the site but the models' folders (the app
// caches model files itself) and the service worker.
// On a built folder: node scripts/service-worker-shell.mjs DIR
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) {
  console.error('service-worker-shell: run me as a Trunk post_build hook, or with the built folder');
  process.exit(1);
}
const WORKER = 'service-worker.js';

/** The site's files under `folder` (following links, as a server does), as URLs relative to the site. */
function filesUnder(folder) {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return [relative(dir, path).split(sep).join('/')];
  });
}

const files = filesUnder(dir)
  .filter((file) => file !== WORKER && !/^models\/[^/]+\//.test(file))
  .sort();
const version = createHash('sha256');
for (const file of files) version.update(file).update('\0').update(readFileSync(join(dir, file)));
const worker = join(dir, WORKER);
const template = readFileSync(worker, 'utf8');
if (!/^const SHELL_VERSION = .*;$/m.test(template) || !/^const SHELL_FILES = .*;$/m.test(template)) {
  console.error(`service-worker-shell: ${worker} has no SHELL_VERSION and SHELL_FILES lines to fill`);
  process.exit(1);
}
const built = template
  .replace(/^const SHELL_VERSION = .*;$/m, `const SHELL_VERSION = '${version.digest('hex').slice(0, 16)}';`)
  .replace(/^const SHELL_FILES = .*;$/m, `const SHELL_FILES = ${JSON.stringify(files)};`);
writeFileSync(worker, built);
console.log(`service-worker-shell: ${files.length} files in the offline shell`);
