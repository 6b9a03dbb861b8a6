// "Measure this computer" (measure.html): traces texts of a few lengths in the app's own
// workers — the single-threaded build and, where the page is cross-origin isolated, the threaded
// build on 1 thread and on the app's pool — and shows the medians, whether every build gave
// the single-threaded build's numbers bit for bit, and a report to copy (cores, browser, times).
//   measure.html[?model=FOLDER][&lengths=32,128][&runs=5][&lang=zh]
import { APP_WORKER, AppWorker, RELAXED_SIMD, fetchBytes } from './measure-workers.js';
import { poolThreads } from './worker-choice.js';

const STRINGS = {
  en: {
    title: 'Measure this computer',
    intro: 'How fast does this computer run a model? Press “Measure”: the page traces texts of a few lengths in the ' +
      'app’s own worker, on one thread and, where the page is allowed to, on several threads. Then copy the report ' +
      'at the bottom to share it.',
    cores: 'Cores (as the browser reports them)', browser: 'Browser', isolated: 'Cross-origin isolated (threads possible)',
    relaxed: 'Relaxed SIMD', pool: 'Threads the app uses', yes: 'yes', no: 'no', model: 'Model', start: 'Measure',
    loading: 'Loading {model} in {count} workers…', measuring: 'Tracing {tokens} tokens ({done} of {total})…',
    done: 'Done.', failed: 'Failed: {error}', 'no-threads': 'This page is not cross-origin isolated: only one thread is measured.',
    tokens: 'Tokens', worker: 'Worker', 'trace-ms': 'Trace, ms (median)', speedup: 'Speed-up over one thread',
    same: 'Same numbers as one thread', single: 'one thread ({build})', threaded: 'threaded build, {threads} thread(s)',
    report: 'Report (select it and copy it):', 'no-models': 'No model is hosted with this page (models/index.json).',
  },
  zh: {
    title: '测量这台电脑',
    intro: '这台电脑运行模型有多快？点击“开始测量”：页面在应用自己的 worker 中追踪几种长度的文本，先用单线程，' +
      '在页面允许时再用多个线程。然后复制页面底部的报告来分享。',
    cores: '处理器核心数（浏览器报告）', browser: '浏览器', isolated: '跨源隔离（可用多线程）',
    relaxed: '宽松 SIMD', pool: '应用使用的线程数', yes: '是', no: '否', model: '模型', start: '开始测量',
    loading: '正在 {count} 个 worker 中加载 {model}…', measuring: '正在追踪 {tokens} 个词元（第 {done} 项，共 {total} 项）…',
    done: '完成。', failed: '失败：{error}', 'no-threads': '此页面未跨源隔离：只测量单线程。',
    tokens: '词元数', worker: 'Worker', 'trace-ms': '追踪耗时（毫秒，中位数）', speedup: '相对单线程的加速比',
    same: '数值与单线程相同', single: '单线程（{build}）', threaded: '多线程版本，{threads} 个线程',
    report: '报告（选中后复制）：', 'no-models': '此页面没有附带模型（models/index.json）。',
  },
};

const params = new URLSearchParams(location.search);
const lang = (params.get('lang') ?? navigator.language ?? 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
/** The page's string `key` in its language, with {name} replaced by `values.name`. */
const t = (key, values = {}) => STRINGS[lang][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
const LENGTHS = (params.get('lengths') ?? '32,128').split(',').map(Number).filter((n) => n > 0);
const RUNS = Math.max(1, Number(params.get('runs') ?? '5'));
const byId = (id) => document.getElementById(id);

/** The middle value (the upper one of an even count). */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** An answer's fields, without the envelope's measurements (time, memory, fork-joins). */
const numberKeys = (object) => Object.keys(object).filter((key) => !['compute_ms', 'wasm_memory_bytes', 'parallel_regions', 'cut_ms', 'block_ms'].includes(key));

/** Whether two answers hold the same numbers, bit for bit (typed arrays byte by byte). */
function sameNumbers(a, b) {
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const [x, y] = [new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)];
    return x.length === y.length && x.every((byte, i) => byte === y[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameNumbers(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const [keysOfA, keysOfB] = [numberKeys(a), numberKeys(b)];
    return keysOfA.length === keysOfB.length && keysOfA.every((key) => sameNumbers(a[key], b[key]));
  }
  return Object.is(a, b);
}

/** The workers measured here: the single-threaded build, and the threaded build on 1 thread
 *  and on the app's pool where there is one. */
function configurations() {
  const pool = poolThreads();
  const list = [{ key: 'single', name: APP_WORKER, threads: 1, label: t('single', { build: APP_WORKER }) }];
  for (const threads of pool ? [...new Set([1, pool])] : []) {
    list.push({ key: `threads-${threads}`, name: `threads:${threads}`, threads, label: t('threaded', { threads }) });
  }
  return list;
}

function showFacts() {
  const facts = [
    ['cores', navigator.hardwareConcurrency ?? '?'], ['browser', navigator.userAgent],
    ['isolated', t(crossOriginIsolated ? 'yes' : 'no')], ['relaxed', t(RELAXED_SIMD ? 'yes' : 'no')],
    ['pool', poolThreads() || 1],
  ];
  byId('facts').replaceChildren(...facts.flatMap(([key, value]) => {
    const [dt, dd] = [document.createElement('dt'), document.createElement('dd')];
    dt.textContent = t(key);
    dd.textContent = String(value);
    dd.dataset.fact = key;
    return [dt, dd];
  }));
}

async function offerModels() {
  const index = JSON.parse(new TextDecoder().decode(await fetchBytes(new URL('models/index.json', location.href))));
  // {name: {file: {size, sha256}}} as scripts/fetch-assets.sh writes it (once a plain list of names).
  const hosted = Array.isArray(index) ? index : Object.keys(index);
  const wanted = params.get('model');
  const names = hosted.filter((name) => name === wanted || !name.startsWith('fixture-'));
  const select = byId('model');
  select.replaceChildren(...names.map((name) => new Option(name, name, false, name === wanted)));
  if (!wanted && names.includes('SmolLM2-135M-Instruct')) select.value = 'SmolLM2-135M-Instruct';
  if (!names.length) throw new Error(t('no-models'));
}

/** A text of about `tokens` tokens. */
const textOf = (tokens) => 'the' + ' the'.repeat(Math.max(0, tokens - 1));

/** Traces every length in every worker: two warm-up traces of another text first (the browser
 *  optimises the hot code once it has run), then RUNS rounds, each worker once per round. */
async function measure(model, status) {
  const configs = configurations();
  status(t('loading', { model, count: configs.length }));
  const workers = [];
  try {
    for (const config of configs) {
      const worker = await AppWorker.start(config.name, new URL('./', location.href));
      workers.push(worker);
      await worker.load(new URL(`models/${model}/`, location.href));
    }
    const results = [];
    for (const [index, length] of LENGTHS.entries()) {
      const text = textOf(length);
      const { data } = await workers[0].expect({ kind: 'tokenize', text }, 'tokens');
      const tokens = data.tokens.ids.length;
      status(t('measuring', { tokens, done: index + 1, total: LENGTHS.length }));
      for (const worker of workers) {
        for (let i = 0; i < 2; i++) await worker.expect({ kind: 'trace', text: `a ${text}`, layer: 0 }, 'trace');
      }
      const times = configs.map(() => []);
      const answers = [];
      for (let round = 0; round < RUNS; round++) {
        for (const [i, worker] of workers.entries()) {
          const reply = await worker.expect({ kind: 'trace', text, layer: 0 }, 'trace');
          times[i].push(reply.data.compute_ms);
          if (round === 0) answers[i] = reply.data;
        }
      }
      configs.forEach((config, i) => results.push({
        tokens, worker: config.name, threads: config.threads, label: config.label, medianMs: median(times[i]),
        runsMs: times[i], sameAsOneThread: sameNumbers(answers[i], answers[0]),
      }));
    }
    return results;
  } finally {
    workers.forEach((worker) => worker.terminate());
  }
}

function showResults(model, results) {
  const rows = results.map((r) => {
    const single = results.find((s) => s.tokens === r.tokens && s.threads === 1 && s.worker === APP_WORKER);
    const row = document.createElement('tr');
    row.dataset.worker = r.worker;
    row.dataset.tokens = String(r.tokens);
    row.dataset.ms = String(r.medianMs);
    row.dataset.same = String(r.sameAsOneThread);
    const cells = [r.tokens, r.label, r.medianMs.toFixed(1), (single.medianMs / r.medianMs).toFixed(2),
      t(r.sameAsOneThread ? 'yes' : 'no')];
    row.replaceChildren(...cells.map((value) => Object.assign(document.createElement('td'), { textContent: String(value) })));
    return row;
  });
  byId('results').tBodies[0].replaceChildren(...rows);
  byId('results').hidden = false;
  const report = {
    page: `${location.origin}${location.pathname}`, date: new Date().toISOString(), userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency, deviceMemoryGB: navigator.deviceMemory ?? null,
    crossOriginIsolated, relaxedSimd: RELAXED_SIMD, model, runs: RUNS,
    results: results.map(({ label, ...rest }) => rest),
  };
  byId('report').value = JSON.stringify(report, null, 2);
  byId('report').hidden = false;
  byId('report-help').hidden = false;
}

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
for (const element of document.querySelectorAll('[data-text]')) element.textContent = t(element.dataset.text);
document.title = `Attention Explorer: ${t('title')}`;
showFacts();
const status = (message) => { byId('status').textContent = message; };
const start = byId('start');
start.disabled = true;
try {
  await offerModels();
  start.disabled = false;
  if (!crossOriginIsolated) {
    byId('note').textContent = t('no-threads');
    byId('note').hidden = false;
  }
} catch (error) {
  status(t('failed', { error: error.message }));
}
start.addEventListener('click', async () => {
  start.disabled = true;
  byId('status').dataset.state = 'running';
  try {
    const model = byId('model').value;
    showResults(model, await measure(model, status));
    status(t('done'));
    byId('status').dataset.state = 'done';
  } catch (error) {
    status(t('failed', { error: error.message }));
    byId('status').dataset.state = 'failed';
  } finally {
    start.disabled = false;
  }
});
