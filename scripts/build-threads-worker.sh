#!/usr/bin/env bash
# Builds the worker on a pool of threads (crates/worker, bins worker_threads and, with the
# relaxed-SIMD matmul kernel, worker_threads_relaxed) into DIR/threads
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
mkdir -p "$out"
for build in worker_threads:threads worker_threads_relaxed:threads,relaxed-simd; do
  bin=${build%%:*}
  cargo build --locked --profile "$profile" --target wasm32-unknown-unknown \
    -Z build-std=panic_abort,std -p ae-worker --bin "$bin" --features "${build#*:}"
  wasm-bindgen --target web --out-dir "$out" --no-typescript \
    "target/threads/wasm32-unknown-unknown/$target_profile/$bin.wasm"
  if [ "$profile" = release ] && command -v wasm-opt >/dev/null; then
    wasm-opt -O1 --enable-threads --enable-bulk-memory --enable-simd --enable-relaxed-simd \
      --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-reference-types --enable-multivalue "$out/${bin}_bg.wasm" -o "$out/${bin}_bg.wasm"
  fi
done
cp scripts/threads-entry.js "$out/entry.js"
