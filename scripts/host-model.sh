#!/usr/bin/env bash
# For teachers, on a machine with internet: downloads a Hugging Face Hub model's config.json,
# tokenizer.json and model.safetensors into public/models/NAME/ and lists it in
# public/models/index.json, so the site serves it itself (rebuild or copy into dist/models/).
#   scripts/host-model.sh REPO [REVISION] [NAME]
#   e.g. scripts/host-model.sh openai-community/gpt2
#        scripts/host-model.sh distilbert/distilbert-base-uncased main distilbert
# HF_ENDPOINT (default https://huggingface.co) and MODELS_DIR (default public/models) override.
# A repository without tokenizer.json that ships SentencePiece files (Marian's opus-mt-*:
# source.spm, target.spm, vocab.json) gets one written by tools/convert_marian_tokenizer.py,
# and target_tokenizer.json beside it for the targets (from target.spm).
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
fetch() {
  echo "host-model: $repo@$revision/$1"
  curl -fL --retry 3 --progress-bar -o "$partial/$1" "$endpoint/$repo/resolve/$revision/$1"
}
give_up() {
  echo "host-model: cannot download $1 of $repo at $revision from $endpoint" >&2
  rm -rf "$partial"
  exit 1
}
for file in config.json model.safetensors; do
  fetch "$file" || give_up "$file"
done
if ! fetch tokenizer.json; then
  echo "host-model: no tokenizer.json; looking for SentencePiece files (Marian)"
  for file in source.spm target.spm vocab.json; do
    fetch "$file" || give_up "tokenizer.json (nor $file)"
  done
  python3 tools/convert_marian_tokenizer.py "$partial" || give_up "a convertible tokenizer"
fi
# Only a complete download replaces what was there.
rm -rf "$target"
mv "$partial" "$target"
scripts/fetch-assets.sh --index-only "$models_dir"
echo "host-model: $repo is in $target"
