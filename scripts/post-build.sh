#!/usr/bin/env bash
# Trunk's post-build hook: the steps one after another (Trunk starts a stage's hooks together,
# and the last step lists every file the others write). Trunk sets TRUNK_STAGING_DIR.
#   1. externalize-scripts.mjs: the inline start-up script to start.js, with its integrity;
#   2. lesson-index.mjs: lessons/index.json, the site's lessons the page offers;
#   3. build-threads-worker.sh: the worker on a pool of threads (threads/), which the page starts
#      where it is cross-origin isolated: built apart, as it needs std rebuilt with wasm atomics;
#   4. service-worker-shell.mjs: the offline shell's file list and version, into
#      service-worker.js.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/externalize-scripts.mjs
node scripts/lesson-index.mjs
bash scripts/build-threads-worker.sh
node scripts/service-worker-shell.mjs
