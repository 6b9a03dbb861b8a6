#!/usr/bin/env bash
# Runs the fault tests and regenerates tests/FAULTS.md from what they saw:
#   tests/faults.rs (model files), tests/fuzz_loader.rs (AE_FUZZ_SECONDS, default 60),
#   tests/e2e/faults.test.mjs (text, links, files, network, worker crash, CSP, threads),
#   tests/e2e/soak.test.mjs (rapid input, a long session) and offline.test.mjs.
# Needs a built dist/ with the fixture models (scripts/test.sh makes one).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test-artifacts/faults
cargo test --locked --test faults
AE_FUZZ_SECONDS="${AE_FUZZ_SECONDS:-60}" cargo test --locked --release --test fuzz_loader -- --nocapture
node --test --test-concurrency=1 tests/e2e/faults.test.mjs tests/e2e/soak.test.mjs tests/e2e/offline.test.mjs
node scripts/faults-table.mjs tests/FAULTS.md
