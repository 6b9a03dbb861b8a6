#!/usr/bin/env bash
# Adds what the browser tests serve beside the release site in dist/: the fixture models (which
# never go into public/), an index of every hosted model with sizes and SHA-256, and the fixture
# lessons (a hostile one among them). Used by scripts/test.sh and scripts/soak.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for fixture in gpt2 distilbert t5 induction; do
  mkdir -p "dist/models/fixture-$fixture"
  cp tests/fixtures/$fixture/{config.json,tokenizer.json,model.safetensors} "dist/models/fixture-$fixture/"
done
# The Llama fixture is one GGUF file, named by a config.json as a hosted GGUF folder is.
mkdir -p dist/models/fixture-llama
cp tests/fixtures/llama/model.gguf dist/models/fixture-llama/
echo '{"model_type": "llama", "gguf_file": "model.gguf"}' > dist/models/fixture-llama/config.json
scripts/fetch-assets.sh --index-only dist/models
mkdir -p dist/lessons/test
cp tests/fixtures/lessons/*.md dist/lessons/test/
