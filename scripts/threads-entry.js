// The threaded worker's module script: the page starts it as
// `new Worker('threads/entry.js?threads=N&relaxed=R', { type: 'module' })` where it is
// cross-origin isolated (R = 1 where the browser validates relaxed SIMD). It loads that build,
// starts a pool of N threads, then the worker, which posts "ready".
const params = new URL(import.meta.url).searchParams;
const threads = Number(params.get('threads')) || 1;
const build = params.get('relaxed') === '1' ? './worker_threads_relaxed.js' : './worker_threads.js';
const { default: init, initThreadPool, start_threaded } = await import(build);
await init();
await initThreadPool(threads);
start_threaded(threads);
