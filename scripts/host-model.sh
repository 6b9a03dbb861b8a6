#!/usr/bin/env bash
# For teachers, on a machine with internet: downloads a Hugging Face Hub model's config.json,
# tokenizer.json and model.safetensors into public/models/NAME/ and lists it in
# public/models/index.json, so the site serves it itself (rebuild or copy into dist/models/).
#   scripts/host-model.sh REPO [REVISION] [NAME]
#   e.g. scripts/host-model.sh openai-community/gpt2
#        scripts/host-model.sh distilbert/distilbert-base-uncased main distilbert
# HF_ENDPOINT (default https://huggingface.co) and MODELS_DIR (default public/models) override.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:?usage: scripts/host-model.sh REPO [REVISION] [NAME]}
revision=${2:-main}
name=${3:-${repo##*/}}
endpoint=${HF_ENDPOINT:-https://huggingface.co}
models_dir=${MODELS_DIR:-public/models}
target="$models_dir/$name"
partial="$target.partial"
rm -rf "$partial"
mkdir -p "$partial"
for file in config.json tokenizer.json model.safetensors; do
  echo "host-model: $repo@$revision/$file"
  if ! curl -fL --retry 3 --progress-bar -o "$partial/$file" "$endpoint/$repo/resolve/$revision/$file"; then
    echo "host-model: cannot download $file of $repo at $revision from $endpoint" >&2
    rm -rf "$partial"
    exit 1
  fi
done
# Only a complete download replaces what was there.
rm -rf "$target"
mv "$partial" "$target"
scripts/fetch-assets.sh --index-only "$models_dir"
echo "host-model: $repo is in $target"
