#!/usr/bin/env python3
"""transformers' numbers for the lab's interventions on the tiny fixtures, the engine's oracle.

For each case a fixture model (tests/fixtures/NAME, loaded by transformers as it is) runs one
text with an intervention done the transformers way:
  ablate        heads zeroed (or, "mean", replaced by their mean over the tokens) by a forward
                pre-hook on the output projection, whose input is the heads side by side;
  causal off    a 4-D additive attention mask of zeros instead of the causal mask;
  padding       the text padded with [PAD] to a batch length, with attention_mask 1 for the
                text and 0 for the padding, or (mask off) 1 everywhere.
tests/fixtures/lab.json lists the cases (fixture, text, interventions as the engine takes
them, the padded ids); tests/fixtures/lab.safetensors holds "{case}.attentions" [layer, head,
query, key], "{case}.hidden_states" [layer + 1, token, d_model] and, with a head,
"{case}.logits" [token, vocab].

    python tools/make_lab_fixture.py
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
TEXT = "Hello world, the cat sat on the mat."


def load(name):
    folder = os.path.join(ROOT, name)
    if name == "llama":
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file="model.gguf", attn_implementation="eager", dtype=torch.float32)
        tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file="model.gguf")
        encode = lambda text: tok(text, add_special_tokens=False)["input_ids"]
        return model.eval(), encode, None
    cls = {"gpt2": transformers.GPT2LMHeadModel, "distilbert": transformers.DistilBertForMaskedLM,
           "bert_headless": transformers.BertModel}[name]
    model = cls.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return model, lambda text: tok.encode(text).ids, tok.token_to_id("[PAD]")


def output_projections(name, model):
    """Each layer's output projection, whose input is the heads' outputs side by side."""
    if name == "gpt2":
        return [b.attn.c_proj for b in model.transformer.h]
    if name == "distilbert":
        return [l.attention.out_lin for l in model.distilbert.transformer.layer]
    if name == "llama":
        return [l.self_attn.o_proj for l in model.model.layers]
    return [l.attention.output.dense for l in model.encoder.layer]


def ablation_hooks(name, model, heads, mode):
    """Pre-hooks that switch off `heads` [(layer, head)], 0-based."""
    n_head = model.config.num_attention_heads
    handles = []
    for layer, projection in enumerate(output_projections(name, model)):
        chosen = [h for (l, h) in heads if l == layer]
        if not chosen:
            continue

        def hook(_module, inputs, chosen=chosen):
            merged = inputs[0].clone()
            d_head = merged.shape[-1] // n_head
            for h in chosen:
                part = merged[..., h * d_head:(h + 1) * d_head]
                if mode == "mean":
                    merged[..., h * d_head:(h + 1) * d_head] = part.mean(dim=-2, keepdim=True)
                else:
                    merged[..., h * d_head:(h + 1) * d_head] = 0
            return (merged,) + tuple(inputs[1:])
        handles.append(projection.register_forward_pre_hook(hook))
    return handles


def run(model, ids, attention_mask=None):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), attention_mask=attention_mask,
                    output_attentions=True, output_hidden_states=True)
    ref = {"attentions": torch.stack([a[0] for a in out.attentions]),
           "hidden_states": torch.stack([h[0] for h in out.hidden_states])}
    if hasattr(out, "logits"):
        ref["logits"] = out.logits[0]
    return ref


def cases():
    ablate = [[0, 1], [1, 2]]
    yield "gpt2", "ablate", {"ablated": ablate}
    yield "gpt2", "ablate_mean", {"ablated": ablate, "ablation": "mean"}
    yield "gpt2", "causal_off", {"causal_mask_off": True}
    yield "distilbert", "ablate", {"ablated": [[1, 0]]}
    yield "llama", "ablate", {"ablated": [[0, 3]]}
    yield "llama", "causal_off", {"causal_mask_off": True}
    yield "bert_headless", "padded", {"pad_to": 24}
    yield "bert_headless", "padded_unmasked", {"pad_to": 24, "padding_mask_off": True}
    yield "distilbert", "padded", {"pad_to": 25}


def main():
    meta, tensors = {"transformers": transformers.__version__, "text": TEXT, "cases": []}, {}
    for index, (name, what, lab) in enumerate(cases()):
        model, encode, pad = load(name)
        ids = encode(TEXT)
        mask, handles = None, []
        if "ablated" in lab:
            handles = ablation_hooks(name, model, lab["ablated"], lab.get("ablation", "zero"))
        if lab.get("causal_mask_off"):
            # A 4-D additive mask is used as given: zeros hide nothing.
            mask = torch.zeros(1, 1, len(ids), len(ids))
        if "pad_to" in lab:
            text_length = len(ids)
            assert lab["pad_to"] > text_length, f"{name}: pad {text_length} tokens to more"
            ids = ids + [pad] * (lab["pad_to"] - text_length)
            visible = 1 if lab.get("padding_mask_off") else 0
            mask = torch.tensor([[1] * text_length + [visible] * (len(ids) - text_length)])
        ref = run(model, ids, mask)
        for handle in handles:
            handle.remove()
        if lab.get("causal_mask_off"):
            upper = ref["attentions"][..., 0, 1:].sum()
            assert upper > 0.1, f"{name}: the first token still attends to itself only"
        for key, value in ref.items():
            tensors[f"{index}.{key}"] = value.to(torch.float32).contiguous()
        lab["ablated"] = [{"layer": l, "head": h} for l, h in lab.get("ablated", [])]
        meta["cases"].append({"fixture": name, "what": what, "interventions": lab, "input_ids": ids})
        print(index, name, what, {k: tuple(v.shape) for k, v in ref.items()})
    save_file(tensors, os.path.join(ROOT, "lab.safetensors"))
    with open(os.path.join(ROOT, "lab.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
