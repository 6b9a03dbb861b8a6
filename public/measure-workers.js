// The app's worker builds, driven from plain JavaScript with the app's own messages: the
// "measure this computer" page (measure.js) and the benchmark page (scripts/bench-page.html).

import { relaxedSimd } from './worker-choice.js';

/** Whether this browser validates relaxed SIMD (the app then starts the builds with it). */
export const RELAXED_SIMD = relaxedSimd();

/** The single-threaded build the app starts in this browser (`worker_script` in the app). */
export const APP_WORKER = RELAXED_SIMD ? 'worker_relaxed' : 'worker';

/** One worker of the app's, answering the envelopes it is sent in order. */
export class AppWorker {
  /** Starts `name`: a build (`worker`, `worker_relaxed`) or `threads:N`, the threaded build on
   *  a pool of N threads (relaxed SIMD as the app chooses; the page must be cross-origin
   *  isolated). `base` is the URL of the app's folder. Resolves once the worker is ready. */
  static async start(name, base = new URL('./', import.meta.url)) {
    const threads = name.startsWith('threads:') ? Number(name.slice('threads:'.length)) : 0;
    if (threads && !crossOriginIsolated) throw new Error(`${name}: the page is not cross-origin isolated`);
    const worker = threads
      ? new Worker(new URL(`threads/entry.js?threads=${threads}&relaxed=${RELAXED_SIMD ? 1 : 0}`, base), { type: 'module' })
      : new Worker(new URL(`${name}_loader.js`, base));
    await new Promise((resolve, reject) => {
      worker.onerror = (event) => reject(new Error(`${name}: ${event.message ?? 'did not start'}`));
      worker.onmessage = (event) => { if (event.data?.kind === 'ready') resolve(); };
    });
    return new AppWorker(name, worker);
  }

  constructor(name, worker) {
    this.name = name;
    this.worker = worker;
    this.nextId = 1;
    this.waiting = new Map();
    worker.onmessage = (event) => this.receive(event);
  }

  receive(event) {
    const received = performance.now();
    const message = event.data; // structured clone is read here
    if (message.kind !== 'answer') return;
    const entry = this.waiting.get(message.id);
    if (!entry) return;
    this.waiting.delete(message.id);
    // The answer's response, with the worker's time, memory and fork-joins from its envelope.
    const data = { ...message.response, compute_ms: message.compute_ms, wasm_memory_bytes: message.wasm_memory_bytes,
                   parallel_regions: message.parallel_regions, cut_ms: message.cut_ms, block_ms: message.block_ms };
    entry.resolve({ data, id: message.id, roundTripMs: performance.now() - entry.sent, readMs: performance.now() - received });
  }

  /** Posts `request` in an envelope; resolves to {data, id, roundTripMs, readMs}. `beside` are
   *  fields next to the envelope (a load's weights). */
  ask(request, transfer = [], beside = {}) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, sent: performance.now() });
      this.worker.postMessage({ id, request, ...beside }, transfer);
    });
  }

  /** `ask`, failing unless the response is of `kind`. */
  async expect(request, kind) {
    const reply = await this.ask(request);
    if (reply.data.kind !== kind) throw new Error(`${request.kind}: ${JSON.stringify(reply.data).slice(0, 300)}`);
    return reply;
  }

  /** Loads the model in `folder` (a URL): its bytes are fetched first; resolves to the load's
   *  numbers and the model card. */
  async load(folder) {
    const base = String(folder).endsWith('/') ? String(folder) : `${folder}/`;
    const config = await fetchBytes(new URL('config.json', base));
    // A GGUF folder's config.json only names its .gguf file, which carries everything.
    const gguf = JSON.parse(new TextDecoder().decode(config)).gguf_file;
    const tokenizer = gguf ? new Uint8Array() : await fetchBytes(new URL('tokenizer.json', base));
    const model = await fetchBytes(new URL(gguf ?? 'model.safetensors', base));
    const fileBytes = model.byteLength;
    const { data, roundTripMs } = await this.ask({ kind: 'load', config, tokenizer }, [model.buffer], { weights: model });
    if (data.kind !== 'loaded') throw new Error(`${folder}: ${JSON.stringify(data).slice(0, 300)}`);
    return { fileBytes, loadMs: data.compute_ms, wallMs: roundTripMs, memoryBytes: data.wasm_memory_bytes,
             parameters: data.card.parameters, card: data.card };
  }

  terminate() {
    this.worker.terminate();
  }
}

/** The bytes at `url`, or an error naming it. */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
