// A plain static file server for dist/, bound to 127.0.0.1 (dist/ needs no server-side code;
// any static host works). Usage: node scripts/static-server.mjs DIR [PORT]  (PORT 0 = any free port)
// From the command line it sends ISOLATION_HEADERS, so the page runs its worker on threads.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8',
};

/** Cross-origin isolation: the page may share memory with its worker's threads (README).
 *  public/service-worker.js adds the same headers where the host cannot send them. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Serves `root`; `headers` are added to every response (e.g. a Content-Security-Policy). */
export function serve(root, port = 0, headers = {}) {
  const base = resolve(root);
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://localhost').pathname);
    let file = normalize(join(base, path));
    if (!file.startsWith(base)) { response.writeHead(403).end(); return; }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      response.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': size,
        'Cache-Control': 'no-cache',
        ...headers,
      });
      createReadStream(file).pipe(response);
    } catch {
      response.writeHead(404, { 'Content-Type': 'text/plain', ...headers }).end('not found');
    }
  });
  return new Promise((ready) => server.listen(port, '127.0.0.1', () => ready(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [root = 'dist', port = '8080'] = process.argv.slice(2);
  const server = await serve(root, Number(port), ISOLATION_HEADERS);
  console.log(`Attention Explorer: http://127.0.0.1:${server.address().port}/  (Ctrl-C to stop)`);
}
