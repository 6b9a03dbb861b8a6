"""A GPT-2 small-shaped model with random weights, for the long soak (scripts/soak.sh): GPT-2's
shape (12 layers, 12 heads, d_model 768, 1,024 positions, 124M parameters) and its real BPE
(.cache/gpt2-bpe, from scripts/fetch-assets.sh), without torch: numpy, safetensors and tokenizers.

    python tools/make_gpt2_shaped.py OUT_DIR

Weights are drawn as GPT-2 initialises them (normal, std 0.02; norms 1 and 0), so its attention
is as spread as an untrained model's. Memory and time follow the shape, not the values.
"""
import json
import pathlib
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE

LAYERS, HEADS, WIDTH, POSITIONS, VOCAB = 12, 12, 768, 1024, 50257


def weights(rng):
    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def norm(name):
        return {f"{name}.weight": np.ones(WIDTH, np.float32), f"{name}.bias": np.zeros(WIDTH, np.float32)}

    tensors = {"wte.weight": normal(VOCAB, WIDTH), "wpe.weight": normal(POSITIONS, WIDTH), **norm("ln_f")}
    for layer in range(LAYERS):
        h = f"h.{layer}"
        tensors |= norm(f"{h}.ln_1") | norm(f"{h}.ln_2")
        tensors |= {
            f"{h}.attn.c_attn.weight": normal(WIDTH, 3 * WIDTH),
            f"{h}.attn.c_attn.bias": np.zeros(3 * WIDTH, np.float32),
            f"{h}.attn.c_proj.weight": normal(WIDTH, WIDTH),
            f"{h}.attn.c_proj.bias": np.zeros(WIDTH, np.float32),
            f"{h}.mlp.c_fc.weight": normal(WIDTH, 4 * WIDTH),
            f"{h}.mlp.c_fc.bias": np.zeros(4 * WIDTH, np.float32),
            f"{h}.mlp.c_proj.weight": normal(4 * WIDTH, WIDTH),
            f"{h}.mlp.c_proj.bias": np.zeros(WIDTH, np.float32),
        }
    return tensors


def tokenizer(bpe_dir):
    """GPT-2's byte-level BPE as a tokenizer.json, from OpenAI's encoder.json and vocab.bpe."""
    model = BPE.from_file(str(bpe_dir / "encoder.json"), str(bpe_dir / "vocab.bpe"))
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": LAYERS, "n_head": HEADS,
        "n_embd": WIDTH, "n_positions": POSITIONS, "n_ctx": POSITIONS, "vocab_size": VOCAB,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "bos_token_id": 50256, "eos_token_id": 50256,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer(pathlib.Path(".cache/gpt2-bpe")).save(str(out / "tokenizer.json"))
    save_file(weights(np.random.default_rng(31)), str(out / "model.safetensors"))
    print(f"wrote {out}: GPT-2 small's shape, random weights")


if __name__ == "__main__":
    main()
