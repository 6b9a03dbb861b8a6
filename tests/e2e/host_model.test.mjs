// scripts/host-model.sh against a local server laid out like the Hub's resolve URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../scripts/static-server.mjs';

const run = promisify(execFile);

test('host-model.sh fetches a repository revision into the models folder and lists it, converting a Marian repository’s SentencePiece files', async () => {
  const hub = mkdtempSync(join(tmpdir(), 'fake-hub-'));
  const models = mkdtempSync(join(tmpdir(), 'models-'));
  const resolve = join(hub, 'attention-explorer/tiny-gpt2/resolve/v1');
  mkdirSync(resolve, { recursive: true });
  for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) cpSync(`tests/fixtures/gpt2/${file}`, join(resolve, file));
  const server = await serve(hub, 0);
  const env = { ...process.env, HF_ENDPOINT: `http://127.0.0.1:${server.address().port}`, MODELS_DIR: models };
  try {
    await run('scripts/host-model.sh', ['attention-explorer/tiny-gpt2', 'v1', 'tiny'], { env });
    assert.deepEqual(readFileSync(join(models, 'tiny/model.safetensors')), readFileSync('tests/fixtures/gpt2/model.safetensors'));
    // The index lists each file with its size and SHA-256, which the app checks downloads against.
    const listed = JSON.parse(readFileSync(join(models, 'index.json'), 'utf8'));
    assert.deepEqual(Object.keys(listed), ['tiny']);
    const weights = readFileSync('tests/fixtures/gpt2/model.safetensors');
    assert.deepEqual(listed.tiny['model.safetensors'],
      { size: weights.length, sha256: createHash('sha256').update(weights).digest('hex') });
    assert.deepEqual(Object.keys(listed.tiny), ['config.json', 'model.safetensors', 'tokenizer.json']);

    // A Marian repository: SentencePiece files instead of tokenizer.json, converted on the way.
    const marian = join(hub, 'attention-explorer/tiny-marian/resolve/main');
    mkdirSync(marian, { recursive: true });
    for (const file of ['config.json', 'model.safetensors']) cpSync(`tests/fixtures/marian/${file}`, join(marian, file));
    for (const file of ['source.spm', 'target.spm', 'vocab.json']) cpSync(`tests/fixtures/marian_spm/${file}`, join(marian, file));
    await run('scripts/host-model.sh', ['attention-explorer/tiny-marian', 'main', 'marian'], { env });
    const converted = JSON.parse(readFileSync(join(models, 'marian/tokenizer.json'), 'utf8'));
    assert.equal(converted.model.type, 'Unigram');
    // The target side from target.spm: the same ids, German pieces' scores.
    const target = JSON.parse(readFileSync(join(models, 'marian/target_tokenizer.json'), 'utf8'));
    assert.equal(target.model.vocab.length, converted.model.vocab.length);
    assert.notDeepEqual(target.model.vocab, converted.model.vocab);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(models, 'index.json'), 'utf8'))), ['marian', 'tiny']);

    await assert.rejects(run('scripts/host-model.sh', ['attention-explorer/missing', 'main', 'missing'], { env }));
    assert.ok(!existsSync(join(models, 'missing')) && !existsSync(join(models, 'missing.partial')), 'a failed download leaves nothing behind');
  } finally {
    server.close();
  }
});
