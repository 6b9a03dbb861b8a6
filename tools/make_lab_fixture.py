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

The encoder–decoder fixtures (T5, BART, Marian) run one of their reference pairs with heads
switched off in the encoder's self-attention, the decoder's and the cross-attention, by the same
pre-hooks on each attention's output projection; their unchanged pass must first reproduce the
fixture's own reference logits. tests/fixtures/lab_seq2seq.json lists the cases (fixture, pair,
interventions, ids) and lab_seq2seq.safetensors holds "{case}.{field}" for encoder_attentions,
decoder_attentions, cross_attentions, encoder_hidden_states, decoder_hidden_states and logits.

    python tools/make_lab_fixture.py [--part one-text|seq2seq|all]
"""
import argparse
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_seq2seq_fixtures as s2s  # noqa: E402  (where each attention's modules are)

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
    return hooks_on(output_projections(name, model), model.config.num_attention_heads, heads, mode)


def hooks_on(projections, n_head, heads, mode):
    """Pre-hooks on `projections` (one per layer) that switch off `heads` [(layer, head)]."""
    handles = []
    for layer, projection in enumerate(projections):
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


def one_text_fixture():
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


SEQ2SEQ_CLASSES = {"t5": transformers.T5ForConditionalGeneration,
                   "bart": transformers.BartForConditionalGeneration,
                   "marian": transformers.MarianMTModel}


def seq2seq_cases():
    """(fixture, reference pair, interventions as the engine takes them, 0-based)."""
    yield "t5", 1, {"ablated_encoder": [[0, 1]], "ablated": [[2, 3]],
                    "ablated_cross": [[1, 0], [2, 2]]}
    yield "bart", 0, {"ablated_encoder": [[1, 3]], "ablated_cross": [[0, 1]], "ablation": "mean"}
    yield "marian", 0, {"ablated": [[1, 2]], "ablated_cross": [[0, 0], [1, 3]]}


def seq2seq_run(model, pair):
    visible = [1 if i != model.config.pad_token_id else 0 for i in pair["source_ids"]]
    with torch.no_grad():
        out = model(input_ids=torch.tensor([pair["source_ids"]]),
                    attention_mask=torch.tensor([visible]),
                    decoder_input_ids=torch.tensor([pair["target_ids"]]),
                    output_attentions=True, output_hidden_states=True, use_cache=False)
    stacked = lambda values: torch.stack([v[0] for v in values])
    return {"encoder_attentions": stacked(out.encoder_attentions),
            "decoder_attentions": stacked(out.decoder_attentions),
            "cross_attentions": stacked(out.cross_attentions),
            "encoder_hidden_states": stacked(out.encoder_hidden_states),
            "decoder_hidden_states": stacked(out.decoder_hidden_states),
            "logits": out.logits[0]}


def seq2seq_fixture():
    meta, tensors = {"transformers": transformers.__version__, "cases": []}, {}
    for index, (name, pair_index, lab) in enumerate(seq2seq_cases()):
        folder = os.path.join(ROOT, name)
        model = SEQ2SEQ_CLASSES[name].from_pretrained(
            folder, attn_implementation="eager", dtype=torch.float32).eval()
        with open(os.path.join(folder, "reference.json"), encoding="utf-8") as f:
            pair = json.load(f)["pairs"][pair_index]
        if name == "t5":
            # The fixture's head is untied; transformers 5 ties it on loading.
            stored = load_file(os.path.join(folder, "model.safetensors"))
            model.lm_head.weight = torch.nn.Parameter(stored["lm_head.weight"])
        expected = load_file(os.path.join(folder, "reference.safetensors"))[f"{pair_index}.logits"]
        gap = (seq2seq_run(model, pair)["logits"] - expected).abs().max().item()
        assert gap < 1e-5, f"{name}: the unchanged pass is {gap} from the fixture's reference"
        attention, _ = s2s.attention_modules(name, model)
        mode = lab.get("ablation", "zero")
        handles = []
        cfg = model.config
        heads_of = {"encoder": getattr(cfg, "encoder_attention_heads", cfg.num_attention_heads),
                    "decoder": getattr(cfg, "decoder_attention_heads", cfg.num_attention_heads)}
        for kind, lab_key, n_head in (("encoder", "ablated_encoder", heads_of["encoder"]),
                                      ("decoder", "ablated", heads_of["decoder"]),
                                      ("cross", "ablated_cross", heads_of["decoder"])):
            layers = sorted(layer for (k, layer) in attention if k == kind)
            projections = [attention[(kind, layer)][3] for layer in layers]
            handles += hooks_on(projections, n_head, lab.get(lab_key, []), mode)
        ref = seq2seq_run(model, pair)
        for handle in handles:
            handle.remove()
        changed = (ref["logits"] - expected).abs().max().item()
        assert changed > 1e-3, f"{name}: switching heads off changed the logits by only {changed}"
        for key, value in ref.items():
            tensors[f"{index}.{key}"] = value.to(torch.float32).contiguous()
        for key in ("ablated", "ablated_encoder", "ablated_cross"):
            lab[key] = [{"layer": l, "head": h} for l, h in lab.get(key, [])]
        meta["cases"].append({"fixture": name, "pair": pair_index, "interventions": lab,
                              "source_ids": pair["source_ids"], "target_ids": pair["target_ids"]})
        print(index, name, {k: tuple(v.shape) for k, v in ref.items()}, f"logits moved {changed:.3f}")
    save_file(tensors, os.path.join(ROOT, "lab_seq2seq.safetensors"))
    with open(os.path.join(ROOT, "lab_seq2seq.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["one-text", "seq2seq", "all"], default="all")
    part = parser.parse_args().part
    if part in ("one-text", "all"):
        one_text_fixture()
    if part in ("seq2seq", "all"):
        seq2seq_fixture()


if __name__ == "__main__":
    main()
