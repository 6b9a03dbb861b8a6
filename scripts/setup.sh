#!/usr/bin/env bash
# Installs what is missing for building and testing Attention Explorer; reuses tools that are
# already installed at the right version. Sourced by serve.sh and test.sh; each step on its own:
#   scripts/setup.sh [wasm-target|wasm-bindgen|trunk|npm|chromium|all]
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  # The threaded worker rebuilds std with wasm atomics (scripts/build-threads-worker.sh).
  rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
}

ensure_wasm_bindgen() {
  local wanted
  wanted=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' "$repo_root/Cargo.lock")
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wanted" ]; then
    echo "setup: installing wasm-bindgen-cli $wanted (must match the wasm-bindgen crate; ~6 min)"
    cargo install wasm-bindgen-cli --version "$wanted"
  fi
}

ensure_trunk() {
  # trunk 0.22 needs a newer rustc than this machine's; 0.21 builds offline with our tools.
  if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
    echo "setup: installing trunk 0.21 (~16 min on 2 cores)"
    cargo install trunk --version '^0.21' --locked
  fi
}

ensure_npm() {
  # playwright-core (drives Debian's Chromium) and binaryen (wasm-opt 132 for release builds).
  if ! (cd "$repo_root" && npm ls --depth=0 >/dev/null 2>&1); then
    (cd "$repo_root" && npm ci --no-audit --no-fund)
  fi
  export PATH="$repo_root/node_modules/.bin:$PATH"
}

ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "setup: installing Debian's chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  # The Chinese screenshots need a CJK font (the page itself uses whatever the reader's system has).
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; then
    echo "setup: installing a Chinese font for the browser tests (fonts-wqy-zenhei)"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null || echo "setup: no Chinese font; zh screenshots will show boxes"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-all}" in
    wasm-target) ensure_wasm_target ;;
    wasm-bindgen) ensure_wasm_bindgen ;;
    trunk) ensure_trunk ;;
    npm) ensure_npm ;;
    chromium) ensure_chromium ;;
    all) ensure_wasm_target; ensure_wasm_bindgen; ensure_trunk; ensure_npm; ensure_chromium ;;
    *) echo "usage: scripts/setup.sh [wasm-target|wasm-bindgen|trunk|npm|chromium|all]" >&2; exit 2 ;;
  esac
fi
