// The long soak (issue #31): a class period's use on one page — 1,000 traces, 200 generated
// tokens, 50 saliency requests, 20 model switches, panels, layers, heads, language and theme —
// and a table of the memory after each hundred actions. Run by scripts/soak.sh, which prepares
// dist/ and the models; prints Markdown and exits 1 when the soak's verdicts fail.
//   node scripts/soak.mjs --main NAME [--others A,B] [--fraction 1] [--seed 31] [--cap 256] [--compare 20] [--out FILE.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { assertHealthy, differingFields, FULL_RUN, hosted, levels, longestText, scaledRun, soak } from '../tests/e2e/soak.mjs';
import { start } from '../tests/e2e/support.mjs';
import { mb, memoryCurve } from './soak-table.mjs';

const { values } = parseArgs({ options: {
  main: { type: 'string' }, others: { type: 'string' }, fraction: { type: 'string', default: '1' },
  seed: { type: 'string', default: '31' }, cap: { type: 'string', default: '256' }, compare: { type: 'string' }, out: { type: 'string' },
} });
if (!values.main) {
  console.error('usage: node scripts/soak.mjs --main NAME [--others A,B] [--fraction 1] [--seed 31] [--cap 256] [--compare 20] [--out FILE.json]');
  process.exit(2);
}
const fraction = Number(values.fraction);
const run = { ...(fraction === 1 ? FULL_RUN : scaledRun(fraction)), ...(values.compare && { compared: Number(values.compare) }) };
const wanted = values.others?.split(',') ??
  ['fixture-gpt2', 'fixture-distilbert', 'fixture-llama', 'fixture-t5', 'all-MiniLM-L6-v2', 'date-translator', 'SmolLM2-135M-Instruct'];
const others = hosted('dist', wanted.filter((name) => name !== values.main));
const began = Date.now();
const minutes = () => ((Date.now() - began) / 60_000).toFixed(1);

const site = await start();
let result;
try {
  result = await soak(site, {
    main: values.main, others, run, seed: Number(values.seed),
    maxChars: (model) => longestText('dist', model, Number(values.cap)),
    log: (c) => console.error(`${minutes()} min: ${c.actions} actions, worker ${mb(c.worker)} MB, page wasm ${mb(c.app)} MB, in use ${mb(c.live)} MB, JS heap ${mb(c.heap)} MB`),
  });
} finally {
  await site.close();
}

console.log(`## Soak: ${values.main}, with ${others.join(', ')}\n`);
console.log(`${result.actions.length} actions (seed ${values.seed}, texts up to ${values.cap} characters) in ${minutes()} min; ${result.posted} requests to the worker.\n`);
const level = levels(result.checkpoints);
const marks = { wasm: level.wasm.actions, heap: level.heap.actions };
console.log(memoryCurve(result.checkpoints, marks));
const equal = result.compared.filter((c) => c.equal).length;
console.log(`\nSampled views equal to a fresh page's: ${equal} of ${result.compared.length}. Unanswered requests: ${result.unanswered.length}. Errors: ${result.errors.length + result.problems.length}.`);
for (const c of result.compared.filter((c) => !c.equal)) {
  const keys = differingFields(c);
  console.log(`- differs (${keys.join(', ')}) after action ${c.action} (${c.what}): ${c.query}`);
  for (const k of keys) console.error(`  ${k}:\n    here:  ${JSON.stringify(c.here[k]).slice(0, 1500)}\n    fresh: ${JSON.stringify(c.fresh[k]).slice(0, 1500)}`);
}
for (const e of [...result.errors, ...result.problems]) console.log(`- error: ${e}`);
let verdict = 'passed';
try {
  assertHealthy(result);
} catch (error) {
  verdict = `failed: ${error.message.split('\n')[0]}`;
  process.exitCode = 1;
}
console.log(`\nVerdict: ${verdict}`);
if (values.out) {
  const { checkpoints, posted, unanswered, errors, problems } = result;
  writeFileSync(values.out, `${JSON.stringify({
    main: values.main, others, seed: Number(values.seed), cap: Number(values.cap), run, actions: result.actions.length,
    minutes: Number(minutes()), posted, unanswered: unanswered.length, errors: errors.length + problems.length,
    compared: result.compared.length, equal, checkpoints, levels: marks, verdict,
  }, null, 1)}\n`);
}
