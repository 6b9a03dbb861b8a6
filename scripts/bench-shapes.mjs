// What the browser benchmarks share: the benchmark's models and the matmuls of their passes.
/** GPT-2 small and DistilBERT-base as the engine computes them: every matmul [m,k]×[k,n] of one
 *  forward pass, with how many times it runs and whether its right operand is a weight (read
 *  from memory once per pass) or activations (attention's per-head products, in cache).
 *  `logitRows`: rows sent through the LM head. */
export function forwardMatmuls(model, tokens, logitRows) {
  const { layers, d, ff, heads, vocab, mlmTransform } = model;
  const dHead = d / heads;
  const list = [
    [[tokens, d, d], 4 * layers, 'weight'], // q, k, v, output projection
    [[tokens, d, ff], layers, 'weight'],
    [[tokens, ff, d], layers, 'weight'],
    [[tokens, dHead, tokens], heads * layers, 'activations'], // scores = q kᵀ per head
    [[tokens, tokens, dHead], heads * layers, 'activations'], // weights × v per head
  ];
  if (mlmTransform) list.push([[logitRows, d, d], 1, 'weight']);
  list.push([[logitRows, d, vocab], 1, 'weight']);
  return list;
}
/** The matmuls of a saliency at `tokens`: the forward pass (the LM head at one row, for the
 *  top-1 token) and the backward pass, which computes input gradients only: each weight's product
 *  once more (grad·W), attention's per-head products twice each (∂q and ∂k from the scores'
 *  gradient, ∂weights and ∂v from the output's), and one column of the LM head (left out). */
export function saliencyMatmuls(model, tokens) {
  const forward = forwardMatmuls(model, tokens, 1);
  const backward = forward
    .filter(([[, , n]]) => n !== model.vocab)
    .map(([shape, count, operand]) => [shape, operand === 'weight' ? count : 2 * count, operand]);
  return [...forward, ...backward];
}
export const MODELS = {
  gpt2: { folder: 'bench-models/gpt2-small', name: 'GPT-2 small (random weights, 124M)', layers: 12, d: 768, ff: 3072, heads: 12, vocab: 50257,
          text: (n) => 'the' + ' the'.repeat(n - 1), onnx: 'bench-models/gpt2-small/model.onnx',
          onnxNext: 'bench-models/gpt2-small/model-next-token.onnx' },
  distilbert: { folder: 'bench-models/distilbert-base', name: 'DistilBERT-base (random weights, 66M)', layers: 6, d: 768, ff: 3072, heads: 12,
                vocab: 30522, mlmTransform: true,
                text: (n) => Array.from({ length: n - 2 }, (_, i) => (i === Math.floor((n - 2) / 2) ? '[MASK]' : 'the')).join(' ') },
};
/** The middle value (the upper one of an even count). */
/** Milliseconds as the tables print them. */
export const ms = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** A shape's floor: the fastest of its four orders ({kn, nk, wf, en} ms, see timeMatmuls). */
export const fastest = (t) => Math.min(t.kn, t.nk, t.wf, t.en);
export const flops = (list) => list.reduce((sum, [[m, k, n], count]) => sum + 2 * m * k * n * count, 0);


/** The floor of `list` ([[m, k, n], count] pairs) once: each shape timed once as a candle matmul
 *  in the worker of the page `floorCall` runs in, the fastest order per shape. */
export async function floorMs(floorCall, list) {
  const { kn, nk, wf, en } = await floorCall('timeMatmuls', list.map(([shape]) => shape), 1);
  return list.reduce((sum, [, count], i) => sum + count * fastest({ kn: kn[i], nk: nk[i], wf: wf[i], en: en[i] }), 0);
}
