#!/usr/bin/env bash
# Installs what is missing, builds the release site into dist/ and serves it on
# http://127.0.0.1:${1:-8080}/ — with the offline model all-MiniLM-L6-v2 in models/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_wasm_target; ensure_wasm_bindgen; ensure_trunk; ensure_npm
scripts/fetch-assets.sh || echo "serve: could not fetch the offline model; the app will need the Hub"
mkdir -p public/models  # trunk copies it into dist/models, even when empty
trunk build --release
exec node scripts/static-server.mjs dist "${1:-8080}"
