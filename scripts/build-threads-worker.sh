#!/usr/bin/env bash
# Builds the worker on a pool of threads (crates/worker, bin worker_threads) into DIR/threads
# (DIR: $1, else trunk's staging folder when run as its hook, else dist). Wasm atomics need std
# rebuilt with them (-Z build-std, on the stable toolchain with RUSTC_BOOTSTRAP=1 and its
# rust-src), and wasm-bindgen-rayon needs the module (web) target. The page starts it only
# where it is cross-origin isolated (crates/app/src/client/mod.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:-dist}}/threads
profile=release
[ "${TRUNK_PROFILE:-release}" = debug ] && profile=dev
target_profile=$([ "$profile" = dev ] && echo debug || echo release)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=target/threads
export RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 \
-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
-C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
-C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
cargo build --locked --profile "$profile" --target wasm32-unknown-unknown \
  -Z build-std=panic_abort,std -p ae-worker --bin worker_threads --features threads
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --no-typescript \
  "target/threads/wasm32-unknown-unknown/$target_profile/worker_threads.wasm"
if [ "$profile" = release ] && command -v wasm-opt >/dev/null; then
  wasm-opt -O1 --enable-threads --enable-bulk-memory --enable-simd --enable-mutable-globals \
    --enable-sign-ext --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$out/worker_threads_bg.wasm" -o "$out/worker_threads_bg.wasm"
fi
cp scripts/threads-entry.js "$out/entry.js"
