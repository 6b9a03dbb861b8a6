#!/usr/bin/env bash
# The browser benchmark: builds the release site, makes the benchmark's models if missing
# (random GPT-2 small and DistilBERT-base, GPT-2 as ONNX, an f16 copy), installs
# onnxruntime-web beside (not into) the project, runs everything in one headless Chromium
# session, prints the table and writes BENCHMARKS.md. Takes ~20 minutes on 2 cores.
#   scripts/bench.sh [--lengths 8,32,128,512] [--runs 5] [--no-build]
# A benchmark, not a test: nothing here asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_wasm_target; ensure_wasm_bindgen; ensure_trunk; ensure_npm; ensure_chromium
scripts/fetch-assets.sh
build=1
args=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then build=0; else args+=("$arg"); fi
done
if [ "$build" = 1 ]; then
  PATH="$PWD/node_modules/.bin:$PATH" trunk build --release
fi
python=${PYTHON:-/opt/ref-venv/bin/python}
if [ ! -f bench-models/gpt2-small/model-next-token.onnx ] || [ ! -f bench-models/distilbert-base/model.safetensors ]; then
  if ! "$python" -c "import torch, transformers, onnx, onnxscript" 2>/dev/null; then
    echo "bench: making the models needs torch, transformers, onnx and onnxscript for $python" >&2
    echo "       (pip install torch transformers onnx onnxscript, then PYTHON=that/python $0)" >&2
    exit 2
  fi
  "$python" tools/make_bench_models.py --out bench-models
fi
if [ ! -f bench-models/t5-small/model.safetensors ]; then
  "$python" tools/make_bench_models.py --out bench-models --t5-only
fi
if [ ! -f bench-models/gpt2-small-f16/model.safetensors ]; then
  tools/to-f16 bench-models/gpt2-small bench-models/gpt2-small-f16
fi
ORT_VERSION=1.30.0
if [ ! -f .cache/bench-node/node_modules/onnxruntime-web/package.json ] ||
   ! grep -q "\"version\": \"$ORT_VERSION\"" .cache/bench-node/node_modules/onnxruntime-web/package.json; then
  mkdir -p .cache/bench-node
  npm install --no-audit --no-fund --prefix .cache/bench-node "onnxruntime-web@$ORT_VERSION"
fi
exec node scripts/bench.mjs "${args[@]}"
