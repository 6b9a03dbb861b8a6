#!/usr/bin/env python3
"""Writes the benchmark's models: GPT-2 small (124M), DistilBERT-base (66M) and t5-small (60M)
with random weights of the real shapes (timing does not depend on the values), each as
config.json + tokenizer.json + model.safetensors, and the same GPT-2 as ONNX (logits and all
attention maps) for onnxruntime-web.

    python tools/make_bench_models.py [--out bench-models] [--t5-only]

Needs torch, transformers, onnx and onnxscript (pip install torch transformers onnx onnxscript),
the real GPT-2 BPE in .cache/gpt2-bpe and the BERT vocabulary of public/models/all-MiniLM-L6-v2
(scripts/fetch-assets.sh places both). The f16 copies are written by `tools/to-f16`.
"""
import argparse
import json
import pathlib
import shutil
import tempfile

import torch
from transformers import (
    DistilBertConfig,
    DistilBertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2TokenizerFast,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def gpt2_tokenizer_json(out: pathlib.Path):
    """tokenizer.json from the real GPT-2 BPE (encoder.json + vocab.bpe)."""
    bpe = ROOT / ".cache" / "gpt2-bpe"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(bpe / "encoder.json", pathlib.Path(tmp) / "vocab.json")
        shutil.copy(bpe / "vocab.bpe", pathlib.Path(tmp) / "merges.txt")
        tokenizer = GPT2TokenizerFast.from_pretrained(tmp)
        tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))


def bert_tokenizer_json(out: pathlib.Path):
    """bert-base-uncased's tokenizer (MiniLM ships it), without padding or truncation."""
    source = ROOT / "public" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    tokenizer = json.loads(source.read_text())
    tokenizer["padding"] = None
    tokenizer["truncation"] = None
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))


def t5_small(out: pathlib.Path):
    """t5-small's shape (transformers' T5Config defaults) and a word-level tokenizer that knows
    "the" (the benchmark's text), with `$A </s>` as T5's."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import T5Config, T5ForConditionalGeneration

    out.mkdir(parents=True, exist_ok=True)
    model = T5ForConditionalGeneration(T5Config(attn_implementation="eager")).eval()
    model.save_pretrained(out, safe_serialization=True)
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "▁the": 3}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    tok.post_processor = processors.TemplateProcessing(single="$A </s>",
                                                       special_tokens=[("</s>", 1)])
    tok.save(str(out / "tokenizer.json"))
    print(f"wrote {out} ({sum(p.numel() for p in model.parameters()):,} parameters)")


class LogitsAndAttentions(torch.nn.Module):
    """A forward pass as transformers returns it: logits at every position and all attentions."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        output = self.model(input_ids=input_ids, output_attentions=True, use_cache=False)
        return (output.logits, *output.attentions)


class NextTokenLogitsAndAttentions(torch.nn.Module):
    """The same with the LM head at the last position only — the work our page's trace does
    for the head (it shows no other position's logits)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        output = self.model.transformer(
            input_ids=input_ids, output_attentions=True, use_cache=False
        )
        logits = self.model.lm_head(output.last_hidden_state[:, -1:, :])
        return (logits, *output.attentions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench-models"))
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--t5-only", action="store_true")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    torch.manual_seed(20261122)
    t5_small(out / "t5-small")
    if args.t5_only:
        return

    gpt2_dir = out / "gpt2-small"
    gpt2_dir.mkdir(parents=True, exist_ok=True)
    gpt2 = GPT2LMHeadModel(GPT2Config(attn_implementation="eager")).eval()
    gpt2.save_pretrained(gpt2_dir, safe_serialization=True)
    gpt2_tokenizer_json(gpt2_dir)
    print(f"wrote {gpt2_dir} ({sum(p.numel() for p in gpt2.parameters()):,} parameters)")

    bert_dir = out / "distilbert-base"
    bert_dir.mkdir(parents=True, exist_ok=True)
    bert = DistilBertForMaskedLM(DistilBertConfig(attn_implementation="eager")).eval()
    bert.save_pretrained(bert_dir, safe_serialization=True)
    bert_tokenizer_json(bert_dir)
    print(f"wrote {bert_dir} ({sum(p.numel() for p in bert.parameters()):,} parameters)")

    if not args.skip_onnx:
        seq = torch.export.Dim("seq", min=2, max=1024)
        for wrapper, name in [
            (LogitsAndAttentions, "model.onnx"),
            (NextTokenLogitsAndAttentions, "model-next-token.onnx"),
        ]:
            with torch.no_grad():
                program = torch.onnx.export(
                    wrapper(gpt2),
                    (torch.zeros((1, 16), dtype=torch.long),),
                    dynamo=True,
                    opset_version=18,
                    input_names=["input_ids"],
                    output_names=["logits"] + [f"attention_{i}" for i in range(12)],
                    dynamic_shapes={"input_ids": {1: seq}},
                )
            program.save(str(gpt2_dir / name))
            print(f"wrote {gpt2_dir / name}")

if __name__ == "__main__":
    main()
