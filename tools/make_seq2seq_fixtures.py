#!/usr/bin/env python3
"""Builds the encoder–decoder reference fixtures (T5, BART, Marian) with transformers.

Each folder under tests/fixtures/ (t5, bart, marian) holds what the app loads (config.json,
tokenizer.json, model.safetensors) and what the engine must reproduce: reference.json (the
source/target pairs, their ids and tokens) and reference.safetensors, keyed "{pair}.{field}":
for each kind (encoder, decoder, cross) its attentions, q, k, v, scores, masked_scores,
head_outputs and attention_outputs; encoder/decoder hidden states, MLP activations and position
embeddings or T5's position bias; logits; and the ids `generate` returns greedily and with beam
search (num_beams 3). The T5 fixture's second source is padded.

Weights are re-drawn larger than transformers' init so attention is far from uniform. Seeded;
needs torch + transformers + tokenizers (tests never do).

    /opt/ref-venv/bin/python tools/make_seq2seq_fixtures.py
"""
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the forward hooks shared by every fixture)
from transformers import (BartConfig, BartForConditionalGeneration, MarianConfig, MarianMTModel,
                          T5Config, T5ForConditionalGeneration)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

CORPUS = [
    "Hello world, the cat sat on the mat.",
    "Hallo Welt, die Katze saß auf der Matte.",
    "Attention is all you need.",
    "Aufmerksamkeit ist alles, was du brauchst.",
    "The quick brown fox jumps over the lazy dog.",
    "twenty first of march nineteen ninety nine",
    "1999-03-21 2024-12-04",
    "naïve café résumé über 中文 注意力 😀",
] * 4

# (source, target so far, padding tokens after the source in the T5 fixture)
PAIRS = [
    ("Hello world, the cat sat on the mat.", "Hallo Welt, die Katze", 0),
    ("Attention is all you need.", "Aufmerksamkeit", 4),
    ("naïve café 中文 注意力", "", 0),
]
GENERATE_TOKENS = 8
# A token each random model writes often, used as its end token in the early-end references.
EOS_TEST_ID = {"t5": 67, "bart": 77, "marian": 6}


def sentencepiece_like(specials, eos):
    """A Unigram tokenizer with Metaspace pre-tokenization, like T5's and Marian's converted
    SentencePiece files; `$A </s>` as the post-processor."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=160, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return tok


def byte_level_bpe():
    """A BART-style byte-level BPE with `<s> $A </s>`."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def redraw(model, seed, query_key_std=1.5):
    """Re-draws every parameter (and BART's final_logits_bias) with a fixed seed, large enough
    to give peaked attention; Marian's sinusoidal tables are left as they are."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    with torch.no_grad():
        for name, module in model.named_modules():
            kind = type(module).__name__
            if kind == "MarianSinusoidalPositionalEmbedding":
                continue
            if isinstance(module, torch.nn.Embedding):
                module.weight.copy_(normal(module.weight.shape, 1.0))
            elif isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
                module.bias.copy_(normal(module.bias.shape, 0.2))
            elif kind == "T5LayerNorm":
                module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
            elif isinstance(module, torch.nn.Linear):
                std = query_key_std if name.endswith((".q", ".k")) else 1.5
                module.weight.copy_(normal(module.weight.shape, std / math.sqrt(module.weight.shape[1])))
                if module.bias is not None:
                    module.bias.copy_(normal(module.bias.shape, 0.2))
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(normal(model.final_logits_bias.shape, 0.5))


def split_heads(x, d_head):
    """[1, T, H·d] -> [H, T, d]"""
    t = x.shape[1]
    return x[0].reshape(t, -1, d_head).transpose(0, 1).contiguous()


def attention_modules(kind, model):
    """{(stack kind, layer): (q, k, v, o) modules} and {(stack, layer): the feed-forward
    network's (norm before it, module it reads through, first matrix, second matrix, up
    projection or None)}."""
    attention, mlp = {}, {}
    if kind == "t5":
        for stack_name, stack in (("encoder", model.encoder), ("decoder", model.decoder)):
            for i, block in enumerate(stack.block):
                sa = block.layer[0].SelfAttention
                attention[(stack_name, i)] = (sa.q, sa.k, sa.v, sa.o)
                if stack_name == "decoder":
                    ca = block.layer[1].EncDecAttention
                    attention[("cross", i)] = (ca.q, ca.k, ca.v, ca.o)
                dense = block.layer[-1].DenseReluDense
                gated = hasattr(dense, "wi_0")
                mlp[(stack_name, i)] = (block.layer[-1].layer_norm, dense,
                                        dense.wi_0 if gated else dense.wi, dense.wo,
                                        dense.wi_1 if gated else None)
        return attention, mlp
    inner = model.model
    for stack_name, stack in (("encoder", inner.encoder), ("decoder", inner.decoder)):
        for i, layer in enumerate(stack.layers):
            sa = layer.self_attn
            attention[(stack_name, i)] = (sa.q_proj, sa.k_proj, sa.v_proj, sa.out_proj)
            if stack_name == "decoder":
                ca = layer.encoder_attn
                attention[("cross", i)] = (ca.q_proj, ca.k_proj, ca.v_proj, ca.out_proj)
            norm = layer.encoder_attn_layer_norm if stack_name == "decoder" else layer.self_attn_layer_norm
            mlp[(stack_name, i)] = (norm, layer.fc1, layer.fc1, layer.fc2, None)
    return attention, mlp


def reference(kind, model, source_ids, visible, target_ids):
    cfg = model.config
    attention, mlp = attention_modules(kind, model)
    hooks = mf.Recorder()
    for key, (q, k, v, o) in attention.items():
        tag = f"{key[0]}.{key[1]}"
        hooks.output(q, f"q.{tag}")
        hooks.output(k, f"k.{tag}")
        hooks.output(v, f"v.{tag}")
        hooks.input(o, f"merged.{tag}")
        hooks.output(o, f"out.{tag}")
    for (stack_name, i), (norm, reads, first, second, up) in mlp.items():
        mf.feed_forward_hooks(hooks, f"{stack_name}.{i}", norm, reads, first, second, up)
    src = torch.tensor([source_ids])
    mask = torch.tensor([visible], dtype=torch.long)
    tgt = torch.tensor([target_ids])
    with torch.no_grad():
        out = model(input_ids=src, attention_mask=mask, decoder_input_ids=tgt,
                    output_attentions=True, output_hidden_states=True, use_cache=False)
    hooks.remove()
    h = hooks.values
    ref = {"logits": out.logits[0],
           "encoder_hidden_states": torch.stack([x[0] for x in out.encoder_hidden_states]),
           "decoder_hidden_states": torch.stack([x[0] for x in out.decoder_hidden_states])}
    n_layers = {"encoder": len(out.encoder_attentions), "decoder": len(out.decoder_attentions),
                "cross": len(out.cross_attentions)}
    attentions = {"encoder": out.encoder_attentions, "decoder": out.decoder_attentions,
                  "cross": out.cross_attentions}
    biases = {}
    if kind == "t5":
        s, t = len(source_ids), len(target_ids)
        biases["encoder"] = model.encoder.block[0].layer[0].SelfAttention.compute_bias(s, s)[0]
        biases["decoder"] = model.decoder.block[0].layer[0].SelfAttention.compute_bias(t, t)[0]
        ref["encoder_position_bias"] = biases["encoder"]
        ref["decoder_position_bias"] = biases["decoder"]
    else:
        inner = model.model
        for stack_name, stack, n in (("encoder", inner.encoder, len(source_ids)),
                                     ("decoder", inner.decoder, len(target_ids))):
            shape = torch.Size([1, n]) if kind == "marian" else torch.zeros(1, n, dtype=torch.long)
            positions = stack.embed_positions(shape)
            ref[f"{stack_name}_position_embeddings"] = positions[0] if positions.dim() == 3 else positions
    hidden_source = torch.tensor(visible) == 0
    for stack_name, n in n_layers.items():
        layers = range(n)
        if kind == "t5":
            d_head = cfg.d_kv
        else:
            heads = cfg.encoder_attention_heads if stack_name == "encoder" \
                else cfg.decoder_attention_heads
            d_head = cfg.d_model // heads
        q = torch.stack([split_heads(h[f"q.{stack_name}.{i}"], d_head) for i in layers])
        k = torch.stack([split_heads(h[f"k.{stack_name}.{i}"], d_head) for i in layers])
        v = torch.stack([split_heads(h[f"v.{stack_name}.{i}"], d_head) for i in layers])
        scores = q @ k.transpose(-1, -2)
        if kind != "t5":
            scores = scores / math.sqrt(d_head)
        masked = scores + biases[stack_name] if stack_name in biases else scores.clone()
        if stack_name == "decoder":
            t = len(target_ids)
            masked = masked.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1),
                                        float("-inf"))
        else:
            masked = masked.masked_fill(hidden_source, float("-inf"))
        ref[f"{stack_name}_attentions"] = torch.stack([a[0] for a in attentions[stack_name]])
        ref[f"{stack_name}_q"], ref[f"{stack_name}_k"], ref[f"{stack_name}_v"] = q, k, v
        ref[f"{stack_name}_scores"] = scores
        ref[f"{stack_name}_masked_scores"] = masked
        ref[f"{stack_name}_head_outputs"] = torch.stack(
            [split_heads(h[f"merged.{stack_name}.{i}"], d_head) for i in layers])
        ref[f"{stack_name}_attention_outputs"] = torch.stack(
            [h[f"out.{stack_name}.{i}"][0] for i in layers])
        if stack_name != "cross":
            ref.update(mf.feed_forward_reference(h, [f"{stack_name}.{i}" for i in layers],
                                                 prefix=f"{stack_name}_"))
    # Saliency of the top-1 logit at the last target position over both sides' embeddings.
    # Marian's encoder takes `inputs_embeds` scaled by √d_model, its decoder unscaled (it
    # scales them itself); gradient × input is the same for scaled or unscaled rows.
    scale = model.model.encoder.embed_scale if kind == "marian" else 1.0
    embed = model.get_input_embeddings()
    source_embeddings = (embed(src) * scale).detach().requires_grad_(True)
    target_embeddings = embed(tgt).detach().requires_grad_(True)
    logits = model(inputs_embeds=source_embeddings, attention_mask=mask,
                   decoder_inputs_embeds=target_embeddings, use_cache=False).logits
    position = len(target_ids) - 1
    target = int(logits[0, position].argmax())
    logits[0, position, target].backward()
    norms = [(e.grad * e).norm(dim=-1)[0] for e in (source_embeddings, target_embeddings)]
    total = norms[0].sum() + norms[1].sum()
    ref["saliency_source"] = (norms[0] / total).detach()
    ref["saliency_target"] = (norms[1] / total).detach()
    ref["saliency_target_id"] = torch.tensor([target], dtype=torch.int64)

    def generate(beams, eos):
        with torch.no_grad():
            return model.generate(
                input_ids=src, attention_mask=mask, max_new_tokens=GENERATE_TOKENS,
                num_beams=beams, do_sample=False, length_penalty=1.0, early_stopping=False,
                no_repeat_ngram_size=0, repetition_penalty=1.0, bad_words_ids=None,
                forced_bos_token_id=None, forced_eos_token_id=None, min_length=0,
                eos_token_id=eos, use_cache=False)[0].to(torch.int64)

    ref["greedy"] = generate(1, cfg.eos_token_id)
    ref["beam3"] = generate(3, cfg.eos_token_id)
    # The random models seldom write their end token; with a token they do write as the end
    # (EOS_TEST_ID), greedy stops early and beam search finishes hypotheses.
    ref["greedy_early_end"] = generate(1, EOS_TEST_ID[kind])
    ref["beam3_early_end"] = generate(3, EOS_TEST_ID[kind])
    return ref


def write_fixture(name, kind, model, tok):
    out_dir = os.path.join(ROOT, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    model.eval()
    model.config.to_json_file(os.path.join(out_dir, "config.json"))
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()
             if not k.endswith("embed_positions.weight") or kind != "marian"}
    # Tied copies are written once, as transformers' save_pretrained does.
    tied = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
            "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
    if kind != "t5":
        tied.append("lm_head.weight")
    for tied_name in tied:
        state.pop(tied_name, None)
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg = model.config
    pad = cfg.pad_token_id
    meta = {"kind": kind, "transformers": transformers.__version__, "pairs": [],
            "early_end_token_id": EOS_TEST_ID[kind],
            "parameters": sum(p.numel() for p in model.parameters())}
    tensors = {}
    for i, (source, target, padding) in enumerate(PAIRS):
        source_ids = tok.encode(source).ids
        padding = padding if kind == "t5" else 0
        visible = [1] * len(source_ids) + [0] * padding
        source_ids = source_ids + [pad] * padding
        target_ids = [cfg.decoder_start_token_id] + tok.encode(target, add_special_tokens=False).ids
        meta["pairs"].append({"source": source, "target": target, "source_ids": source_ids,
                              "target_ids": target_ids})
        for key, value in reference(kind, model, source_ids, visible, target_ids).items():
            value = value.contiguous()
            tensors[f"{i}.{key}"] = value if value.dtype == torch.int64 else value.to(torch.float32)
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    size = sum(os.path.getsize(os.path.join(out_dir, x)) for x in os.listdir(out_dir))
    print(f"{name}: {size} bytes")


def t5_fixture():
    tok = sentencepiece_like(["<pad>", "</s>", "<unk>"], "</s>")
    cfg = T5Config(vocab_size=tok.get_vocab_size(), d_model=32, d_kv=6, d_ff=40, num_layers=2,
                   num_decoder_layers=3, num_heads=4, relative_attention_num_buckets=8,
                   relative_attention_max_distance=16, feed_forward_proj="gated-gelu",
                   tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
                   decoder_start_token_id=0, attn_implementation="eager")
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(cfg)
    redraw(model, 11, query_key_std=1.0)
    # flan-t5's own head: transformers 5 ties lm_head to `shared` whatever the config says, so
    # it is untied by hand (its forward reads lm_head, unscaled since tie_word_embeddings=False).
    gen = torch.Generator().manual_seed(14)
    model.lm_head.weight = torch.nn.Parameter(torch.randn(model.lm_head.weight.shape, generator=gen) * 0.3)
    write_fixture("t5", "t5", model, tok)


def bart_fixture():
    tok = byte_level_bpe()
    cfg = BartConfig(vocab_size=tok.get_vocab_size(), d_model=32, encoder_layers=2,
                     decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=2,
                     encoder_ffn_dim=48, decoder_ffn_dim=40, max_position_embeddings=64,
                     activation_function="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2,
                     decoder_start_token_id=2, forced_eos_token_id=None, scale_embedding=False,
                     attn_implementation="eager")
    torch.manual_seed(0)
    model = BartForConditionalGeneration(cfg)
    redraw(model, 12)
    write_fixture("bart", "bart", model, tok)


def marian_fixture():
    tok = sentencepiece_like(["</s>", "<unk>"], "</s>")
    tok.add_special_tokens(["<pad>"])
    pad = tok.token_to_id("<pad>")
    cfg = MarianConfig(vocab_size=tok.get_vocab_size(), decoder_vocab_size=tok.get_vocab_size(),
                       d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                       decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
                       max_position_embeddings=64, activation_function="swish",
                       pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                       forced_eos_token_id=None, scale_embedding=True,
                       attn_implementation="eager")
    torch.manual_seed(0)
    model = MarianMTModel(cfg)
    redraw(model, 13)
    write_fixture("marian", "marian", model, tok)


if __name__ == "__main__":
    t5_fixture()
    bart_fixture()
    marian_fixture()
