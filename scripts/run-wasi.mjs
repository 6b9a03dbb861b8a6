// Runs a wasm32-wasip1 program in Node's V8 (the JavaScript engine Chromium uses), passing on
// the arguments: node scripts/run-wasi.mjs PROGRAM.wasm [ARGS…]. Used by scripts/bench-wasi.sh.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [program, ...args] = process.argv.slice(2);
if (!program) {
  console.error('usage: node scripts/run-wasi.mjs PROGRAM.wasm [ARGS…]');
  process.exit(2);
}
const wasi = new WASI({ version: 'preview1', args: [program, ...args], env: {}, preopens: {} });
const module = await WebAssembly.compile(readFileSync(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
// Exit at once: Node 20 was seen to crash tearing down a multi-gigabyte wasm memory after a
// normal return.
process.exit(wasi.start(instance));
