#!/usr/bin/env bash
# Prints the engine's native timings on a random GPT-2 small, then PyTorch's for comparison
# (if a Python with torch + transformers is available: set PYTHON=… or use /opt/ref-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --bin bench -- "$@"
python=${PYTHON:-/opt/ref-venv/bin/python}
if "$python" -c "import torch, transformers" 2>/dev/null; then
  echo
  "$python" tools/bench_torch.py "$@"
else
  echo "(PyTorch comparison skipped: no torch + transformers for $python; pip install torch transformers)"
fi
