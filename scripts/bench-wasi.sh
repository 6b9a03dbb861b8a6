#!/usr/bin/env bash
# The engine's benchmark (src/bin/bench.rs: trace, predictions, saliency and the floor of a
# random GPT-2 small, or DistilBERT-base) compiled to wasm32-wasip1 with SIMD and run in Node's
# V8: the same wasm engine code as the browser's worker, outside the browser. Not a test.
#   scripts/bench-wasi.sh [--model gpt2|distilbert] [--tokens 32] [--runs 5] [--page-trace-only]
# --page-trace-only times only the page's trace (Model::page_trace), e.g. under a profiler:
#   node --cpu-prof scripts/run-wasi.mjs target/wasi/wasm32-wasip1/release/bench.wasm --tokens 32 --page-trace-only
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR=target/wasi \
  cargo build --quiet --release --target wasm32-wasip1 --bin bench
exec node --no-warnings scripts/run-wasi.mjs target/wasi/wasm32-wasip1/release/bench.wasm "$@"
