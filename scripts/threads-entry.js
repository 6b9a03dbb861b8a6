// The threaded worker's module script: the page starts it as
// `new Worker('threads/entry.js?threads=N', { type: 'module' })` where it is cross-origin
// isolated. It starts a pool of N threads, then the worker, which posts "ready".
import init, { initThreadPool, start_threaded } from './worker_threads.js';

const threads = Number(new URL(import.meta.url).searchParams.get('threads')) || 1;
await init();
await initThreadPool(threads);
start_threaded(threads);
