#!/usr/bin/env bash
# The long soak (issue #31): for each main model, a class period's use on one page
# (scripts/soak.mjs: 1,000 traces, 200 generated tokens, 50 saliency requests, 20 model
# switches, panels, layers, heads, language, theme), its memory after each hundred actions
# written to tests/soak/MODEL.json, then the fault table's "Long soak" section rebuilt from them
# (node scripts/faults-table.mjs, which needs this run's test-artifacts/faults: run
# scripts/faults.sh after). About 30 minutes a model on 2 cores. A measurement, not a CI test:
# the short soak (tests/e2e/soak.test.mjs) runs in every test run.
#   scripts/soak.sh [--no-build] [MODEL ...]   (default: gpt2-shaped SmolLM2-135M-Instruct)
# gpt2-shaped is GPT-2 small's shape with random weights (tools/make_gpt2_shaped.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
build=1
models=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then build=0; else models+=("$arg"); fi
done
[ ${#models[@]} -gt 0 ] || models=(gpt2-shaped SmolLM2-135M-Instruct)
ensure_wasm_target; ensure_wasm_bindgen; ensure_trunk; ensure_npm; ensure_chromium
scripts/fetch-assets.sh
if [ "$build" = 1 ] || [ ! -f dist/index.html ]; then
  mkdir -p public/models
  PATH="$PWD/node_modules/.bin:$PATH" trunk build --release
fi
if [ ! -f .cache/gpt2-shaped/model.safetensors ]; then
  python3 -m venv .cache/soak-venv
  .cache/soak-venv/bin/pip install --quiet numpy safetensors tokenizers
  .cache/soak-venv/bin/python tools/make_gpt2_shaped.py .cache/gpt2-shaped
fi
rm -rf dist/models/gpt2-shaped
cp -r .cache/gpt2-shaped dist/models/gpt2-shaped
scripts/stage-test-files.sh
mkdir -p tests/soak
for model in "${models[@]}"; do
  node scripts/soak.mjs --main "$model" --out "tests/soak/$model.json"
done
