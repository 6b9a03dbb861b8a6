// The soak's memory after each hundred actions as a Markdown table: printed by scripts/soak.mjs
// and written into tests/FAULTS.md by scripts/faults-table.mjs.
export const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);

/** `checkpoints` ({ actions, worker, app, live, heap }, bytes) as rows; `levels` ({ wasm, heap }:
 *  action counts) marks the checkpoints the verdicts compare the last one with. */
export function memoryCurve(checkpoints, levels) {
  const rows = checkpoints.map((c) => {
    const level = [c.actions === levels.wasm && 'wasm', c.actions === levels.heap && 'heap'].filter(Boolean).join(', ');
    const actions = c.actions === 0 ? 'after warm-up' : String(c.actions);
    return `| ${actions}${level && ` (${level} level)`} | ${mb(c.worker)} | ${mb(c.app)} | ${c.live === undefined ? '—' : mb(c.live)} | ${mb(c.heap)} |`;
  });
  return ['| actions | worker wasm (MB) | page wasm (MB) | page wasm in use (MB) | page JS heap (MB) |', '|---:|---:|---:|---:|---:|', ...rows].join('\n');
}
