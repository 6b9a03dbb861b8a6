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
// Node 20 (v20.20.2) segfaults (status 139) at the end of the bench's runs, after their output is
// complete: sometimes after start() returns, sometimes inside it; process.exit does not help.
// The program's own status is printed when start() returns, so a clean run can be told apart.
const status = wasi.start(instance);
console.error(`run-wasi: ${program} returned ${status}`);
process.exitCode = status;
