#!/usr/bin/env python3
"""Builds the engine's reference fixtures with Hugging Face transformers (re-runnable, seeded).

Each fixture folder under tests/fixtures/ holds what the app loads (config.json, tokenizer.json,
model.safetensors) and what the engine must reproduce: reference.json (texts, ids, tokens, the
saliency position/target) and reference.safetensors (attentions, hidden states, logits, q/k/v,
scores, head outputs, attention outputs, MLP activations, logit-lens logits and saliency, keyed
"{text index}.{field}").

Weights are re-drawn larger than transformers' 0.02 init so attention is far from uniform and a
wrong formula cannot hide. Needs torch + transformers + tokenizers; tests never do.

    python tools/make_fixtures.py            # tiny models -> tests/fixtures/
    python tools/make_fixtures.py --minilm DIR   # also the real all-MiniLM-L6-v2 reference
                                                 # (attentions, last hidden state; for the
                                                 # first text the first and last layer's
                                                 # feed-forward fields)
"""
import argparse
import json
import math
import os
import shutil

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers
from transformers import (BertConfig, BertForMaskedLM, BertModel, DistilBertConfig,
                          DistilBertForMaskedLM, GPT2Config, GPT2LMHeadModel)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

CORPUS = [
    "Hello world, the cat sat on the mat.",
    "The quick brown fox jumps over the lazy dog.",
    "Attention is all you need: queries, keys and values.",
    "A student types a sentence and hovers over a token to see attention.",
    "The model reads the whole sentence at once, and each word looks at the others.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "She said that the weather was nice, so we went to the park.",
    "Transformers stack layers of self-attention and feed-forward networks.",
    "naïve café résumé über 中文 注意力 😀",
] * 3


def gpt2_tokenizer(vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def wordpiece_tokenizer(pad_and_truncate=False):
    """A BERT-style WordPiece tokenizer with a vocabulary built deterministically from CORPUS
    (the trainer's tie order varies between runs): specials, every character, every character
    as a continuation, and the corpus's repeated words."""
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts = {}
    for line in CORPUS[: len(CORPUS) // 3]:
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(line)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for word in counts for c in word})
    words = sorted(w for w in counts if 1 < len(w) <= 4)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = specials + chars + ["##" + c for c in chars] + words
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(specials)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    if pad_and_truncate:
        # Like all-MiniLM-L6-v2's tokenizer.json: the engine must switch both off.
        tok.enable_padding(length=32, pad_id=0, pad_token="[PAD]")
        tok.enable_truncation(max_length=32)
    return tok


def redraw_weights(model, seed, tied_names):
    """Re-draws every parameter with a fixed seed, large enough to give peaked attention."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    with torch.no_grad():
        for name, module in model.named_modules():
            if name in tied_names:
                continue
            kind = type(module).__name__
            if kind == "Embedding":
                module.weight.copy_(normal(module.weight.shape, 1.0))
            elif kind == "LayerNorm":
                module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
                module.bias.copy_(normal(module.bias.shape, 0.2))
            elif kind in ("Linear", "Conv1D"):
                fan_in = module.weight.shape[1] if kind == "Linear" else module.weight.shape[0]
                module.weight.copy_(normal(module.weight.shape, 1.5 / math.sqrt(fan_in)))
                if module.bias is not None:
                    module.bias.copy_(normal(module.bias.shape, 0.2))
        for name, param in model.named_parameters():
            if name.endswith("predictions.bias") or name == "vocab_projector.bias":
                param.copy_(normal(param.shape, 0.2))
    model.tie_weights()


def split_heads(x, n_head):
    """[1, T, D] -> [H, T, D/H]"""
    t, d = x.shape[1], x.shape[2]
    return x[0].reshape(t, n_head, d // n_head).transpose(0, 1).contiguous()


class Recorder:
    """Forward hooks that capture what the engine's trace must reproduce."""

    def __init__(self):
        self.values = {}
        self.handles = []

    def output(self, module, key, index=None):
        def hook(_m, _inp, out):
            out = out[0] if isinstance(out, tuple) else out
            self.values[key] = out.detach().clone()
        self.handles.append(module.register_forward_hook(hook))

    def input(self, module, key):
        def hook(_m, inp):
            self.values[key] = inp[0].detach().clone()
        self.handles.append(module.register_forward_pre_hook(hook))

    def remove(self):
        for h in self.handles:
            h.remove()


def feed_forward_hooks(rec, key, norm, reads, first, second, up=None):
    """Hooks on one block's feed-forward network and the norm before it: the norm's input and
    its γ (and β), what the network reads (the input of `reads`), the first matrix's output (a
    gated network's gate), the up projection, what the second matrix reads (the activations)
    and its output, keyed "{name}.{key}"."""
    rec.input(norm, f"ln2_in.{key}")
    rec.values[f"ln2_w.{key}"] = norm.weight.detach().clone()[None]
    if getattr(norm, "bias", None) is not None:
        rec.values[f"ln2_b.{key}"] = norm.bias.detach().clone()[None]
    rec.input(reads, f"ln2_out.{key}")
    rec.output(first, f"mlp_pre.{key}")
    if up is not None:
        rec.output(up, f"mlp_up.{key}")
    rec.input(second, f"mlp_act.{key}")
    rec.output(second, f"mlp_out.{key}")


FEED_FORWARD_FIELDS = [("ln2_inputs", "ln2_in"), ("ln2_weights", "ln2_w"), ("ln2_biases", "ln2_b"),
                       ("ln2_outputs", "ln2_out"), ("mlp_pre_activations", "mlp_pre"),
                       ("mlp_up", "mlp_up"), ("mlp_activations", "mlp_act"),
                       ("mlp_outputs", "mlp_out")]


def feed_forward_reference(values, keys, prefix=""):
    """The trace CLI's feed-forward fields [layer, token, ...] from `feed_forward_hooks`' values
    at `keys` (one per layer); mlp_up only where the network is gated."""
    ref = {}
    for field, name in FEED_FORWARD_FIELDS:
        if f"{name}.{keys[0]}" in values:
            ref[prefix + field] = torch.stack([values[f"{name}.{k}"][0] for k in keys])
    return ref


def attach_hooks(kind, model, rec):
    if kind == "gpt2":
        blocks = model.transformer.h
        for i, b in enumerate(blocks):
            rec.output(b.attn.c_attn, f"qkv.{i}")
            rec.input(b.attn.c_proj, f"merged_heads.{i}")
            rec.output(b.attn.c_proj, f"attn_out.{i}")
            feed_forward_hooks(rec, i, b.ln_2, b.mlp, b.mlp.c_fc, b.mlp.c_proj)
        rec.input(model.transformer.ln_f, "pre_final_norm")
        return len(blocks)
    if kind == "distilbert":
        layers = model.distilbert.transformer.layer
        for i, l in enumerate(layers):
            rec.output(l.attention.q_lin, f"q.{i}")
            rec.output(l.attention.k_lin, f"k.{i}")
            rec.output(l.attention.v_lin, f"v.{i}")
            rec.input(l.attention.out_lin, f"merged_heads.{i}")
            rec.output(l.attention.out_lin, f"attn_out.{i}")
            feed_forward_hooks(rec, i, l.sa_layer_norm, l.ffn, l.ffn.lin1, l.ffn.lin2)
        return len(layers)
    bert = model.bert if hasattr(model, "bert") else model
    layers = bert.encoder.layer
    for i, l in enumerate(layers):
        rec.output(l.attention.self.query, f"q.{i}")
        rec.output(l.attention.self.key, f"k.{i}")
        rec.output(l.attention.self.value, f"v.{i}")
        rec.output(l.attention.self, f"merged_heads.{i}")
        rec.output(l.attention.output.dense, f"attn_out.{i}")
        feed_forward_hooks(rec, i, l.attention.output.LayerNorm, l.intermediate,
                           l.intermediate.dense, l.output.dense)
    return len(layers)


def ranks(lens_logits, targets):
    """1 + how many tokens score above `targets` [token] in each lens row [layer, token, vocab]."""
    index = targets.view(1, -1, 1).expand(lens_logits.shape[0], -1, 1)
    return ((lens_logits > lens_logits.gather(-1, index)).sum(-1) + 1).to(torch.float32)


def ranking_references(lens_logits, logits, ids, causal):
    """Ecco's rankings from the lens: at every layer and position the rank of the token the
    model finally predicts there; for a causal model also the rank of the actual next token
    and its surprisal, -log p (nats), under the final logits."""
    ref = {"lens_ranks_of_prediction": ranks(lens_logits, logits.argmax(-1))}
    if causal and len(ids) > 1:
        following = torch.tensor(ids[1:])
        ref["lens_ranks_of_next_token"] = ranks(lens_logits[:, :-1], following)
        log_p = torch.log_softmax(logits[:-1].double(), dim=-1)
        ref["surprisal"] = -log_p[torch.arange(len(ids) - 1), following]
    return ref


def lens_head(kind, model):
    """The function that turns a residual-stream row into logits (None for a headless model)."""
    if kind == "gpt2":
        return lambda h: model.lm_head(model.transformer.ln_f(h))
    if kind == "distilbert":
        return lambda h: model.vocab_projector(model.vocab_layer_norm(
            model.activation(model.vocab_transform(h))))
    if isinstance(model, BertForMaskedLM):
        return lambda h: model.cls(h)
    return None


def reference(kind, model, n_head, ids, saliency_request):
    """All reference tensors for one input, from transformers' own forward pass and autograd."""
    rec = Recorder()
    n_layer = attach_hooks(kind, model, rec)
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        out = model(input_ids=input_ids, output_attentions=True, output_hidden_states=True)
    rec.remove()
    v = rec.values
    ref = {}
    ref["attentions"] = torch.stack([a[0] for a in out.attentions])
    ref["hidden_states"] = torch.stack([h[0] for h in out.hidden_states])
    qs, ks, vs = [], [], []
    for i in range(n_layer):
        if kind == "gpt2":
            q, k, vv = v[f"qkv.{i}"].split(v[f"qkv.{i}"].shape[-1] // 3, dim=-1)
        else:
            q, k, vv = v[f"q.{i}"], v[f"k.{i}"], v[f"v.{i}"]
        qs.append(split_heads(q, n_head))
        ks.append(split_heads(k, n_head))
        vs.append(split_heads(vv, n_head))
    ref["q"], ref["k"], ref["v"] = torch.stack(qs), torch.stack(ks), torch.stack(vs)
    d_head = ref["q"].shape[-1]
    ref["scores"] = ref["q"] @ ref["k"].transpose(-1, -2) / math.sqrt(d_head)
    if kind == "gpt2":
        t = len(ids)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        ref["masked_scores"] = ref["scores"].masked_fill(future, float("-inf"))
    else:
        ref["masked_scores"] = ref["scores"].clone()
    ref["head_outputs"] = torch.stack([split_heads(v[f"merged_heads.{i}"], n_head)
                                       for i in range(n_layer)])
    ref["attention_outputs"] = torch.stack([v[f"attn_out.{i}"][0] for i in range(n_layer)])
    ref.update(feed_forward_reference(v, range(n_layer)))
    head = lens_head(kind, model)
    if head is None:
        return ref
    ref["logits"] = out.logits[0]
    with torch.no_grad():
        residual = list(out.hidden_states)
        if kind == "gpt2":
            # HF's last hidden state already went through ln_f; the lens wants the raw stream.
            residual[-1] = v["pre_final_norm"]
        ref["lens_logits"] = torch.stack([head(h)[0] for h in residual])
    ref.update(ranking_references(ref["lens_logits"], ref["logits"], ids, kind == "gpt2"))

    position, target = saliency_request
    embeddings = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeddings).logits
    logits[0, position, target].backward()
    scores = (embeddings.grad * embeddings).norm(dim=-1)[0]
    ref["saliency"] = (scores / scores.sum()).detach()
    return ref


def default_saliency_request(kind, ids, logits_fn, mask_id):
    if kind == "gpt2":
        position = len(ids) - 1
    else:
        position = ids.index(mask_id)
    return position, int(logits_fn()[0, position].argmax())


def save_state(path, state, dtype):
    tensors = {}
    for name, tensor in state.items():
        tensor = tensor.detach().contiguous()
        if tensor.is_floating_point() and dtype is not None and not name.endswith(".attn.bias") \
                and not name.endswith(".masked_bias"):
            tensor = tensor.to(dtype)
        tensors[name] = tensor
    save_file(tensors, path, metadata={"format": "pt"})


def round_weights(model, dtype):
    """Rounds the model's weights to the stored dtype so the reference uses the stored values."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))


def write_fixture(name, kind, model, tok, texts, state, dtype=None, saliency_overrides=None):
    out_dir = os.path.join(ROOT, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    if dtype is not None:
        round_weights(model, dtype)
    model.eval()
    model.config.to_json_file(os.path.join(out_dir, "config.json"))
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    save_state(os.path.join(out_dir, "model.safetensors"), state(model), dtype)

    plain = Tokenizer.from_str(tok.to_str())
    plain.no_padding()
    plain.no_truncation()
    mask_id = plain.token_to_id("[MASK]")
    n_head = model.config.num_attention_heads if kind != "gpt2" else model.config.n_head
    meta = {"kind": kind, "transformers": transformers.__version__,
            "parameters": sum(p.numel() for p in model.parameters()), "texts": []}
    tensors = {}
    for i, text in enumerate(texts):
        enc = plain.encode(text)
        ids = enc.ids
        entry = {"text": text, "input_ids": ids, "tokens": enc.tokens, "offsets": enc.offsets}
        has_head = lens_head(kind, model) is not None
        if has_head:
            with torch.no_grad():
                request = default_saliency_request(
                    kind, ids, lambda: model(input_ids=torch.tensor([ids])).logits, mask_id)
            entry["default_saliency"] = {"position": request[0], "target_id": request[1]}
            if saliency_overrides and i in saliency_overrides:
                request = saliency_overrides[i]
            entry["saliency"] = {"position": request[0], "target_id": request[1]}
        else:
            request = None
        ref = reference(kind, model, n_head, ids, request)
        for key, value in ref.items():
            tensors[f"{i}.{key}"] = value.to(torch.float32).contiguous()
        meta["texts"].append(entry)
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    print(f"{name}: {sum(os.path.getsize(os.path.join(out_dir, x)) for x in os.listdir(out_dir))} bytes")


def gpt2_fixtures():
    tok = gpt2_tokenizer(320)
    texts = ["Hello world, the cat sat on the mat.",
             "Attention is all you need — naïve café 中文 😀"]
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=64, n_embd=32, n_layer=2,
                     n_head=4, attn_implementation="eager", bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg)
    redraw_weights(model, 1, {"lm_head"})
    # Recent transformers layout: "transformer." prefix, no mask buffers, no lm_head (tied).
    prefixed = lambda m: {k: v for k, v in m.state_dict().items()
                          if k != "lm_head.weight" and not k.endswith((".attn.bias", ".masked_bias"))}
    write_fixture("gpt2", "gpt2", model, tok, texts, prefixed, saliency_overrides={1: (3, 7)})

    # The Hub's openai-community/gpt2 layout: no prefix, with attn.bias / masked_bias buffers;
    # an odd head size (d_model 15, 3 heads of 5) and weights stored as f16.
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=48, n_embd=15, n_layer=3,
                     n_head=3, attn_implementation="eager", bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg)
    redraw_weights(model, 2, {"lm_head"})

    def hub_layout(m):
        state = {k[len("transformer."):]: v for k, v in m.state_dict().items()
                 if k.startswith("transformer.") and not k.endswith((".attn.bias", ".masked_bias"))}
        p = cfg.n_positions
        for i in range(cfg.n_layer):
            state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(p, p)).view(1, 1, p, p)
            state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
        return state
    write_fixture("gpt2_hub_odd_f16", "gpt2", model, tok, texts, hub_layout, dtype=torch.float16)


def distilbert_fixture():
    tok = wordpiece_tokenizer()
    texts = ["The cat sat on the [MASK].", "[MASK] is all you need, the [MASK] said."]
    cfg = DistilBertConfig(vocab_size=tok.get_vocab_size(), max_position_embeddings=64, dim=32,
                           n_layers=2, n_heads=4, hidden_dim=64, activation="gelu",
                           pad_token_id=0, attn_implementation="eager")
    model = DistilBertForMaskedLM(cfg)
    redraw_weights(model, 3, {"vocab_projector"})
    state = lambda m: {k: v for k, v in m.state_dict().items() if k != "vocab_projector.weight"}
    write_fixture("distilbert", "distilbert", model, tok, texts, state, dtype=torch.bfloat16,
                  saliency_overrides={1: (1, 12)})


def bert_fixtures():
    tok = wordpiece_tokenizer()
    texts = ["The cat sat on the [MASK].", "Paris is the [MASK] of France."]
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=15, num_hidden_layers=2,
                     num_attention_heads=3, intermediate_size=30, max_position_embeddings=64,
                     hidden_act="gelu", attn_implementation="eager")
    model = BertForMaskedLM(cfg)
    redraw_weights(model, 4, {"cls.predictions.decoder"})

    def old_names(m):
        # bert-base-uncased style: "bert." prefix and LayerNorm.gamma / LayerNorm.beta.
        state = {}
        for k, v in m.state_dict().items():
            if k.startswith("cls.predictions.decoder."):
                continue  # tied to the word embeddings and cls.predictions.bias
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
            state[k] = v
        return state
    write_fixture("bert_mlm_odd", "bert", model, tok, texts, old_names)

    tok = wordpiece_tokenizer(pad_and_truncate=True)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                     hidden_act="gelu", attn_implementation="eager")
    model = BertModel(cfg)
    redraw_weights(model, 5, set())

    def minilm_layout(m):
        # sentence-transformers style: no prefix, a pooler, and the int64 position_ids buffer.
        state = dict(m.state_dict())
        state["embeddings.position_ids"] = torch.arange(cfg.max_position_embeddings).view(1, -1)
        return state
    write_fixture("bert_headless", "bert", model, tok, ["Hello world, the cat sat on the mat."],
                  minilm_layout)


def minilm_reference(model_dir):
    """Reference outputs of the real all-MiniLM-L6-v2 (the weights stay out of git)."""
    out_dir = os.path.join(ROOT, "minilm")
    os.makedirs(out_dir, exist_ok=True)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    texts = ["Hello world, the cat sat on the mat.",
             "The students asked why each attention head looks at different words."]
    # The feed-forward fields of the first and last layer, for the first text (kept small).
    layers = [0, model.config.num_hidden_layers - 1]
    meta = {"transformers": transformers.__version__, "texts": [], "feed_forward_layers": layers}
    tensors = {}
    for i, text in enumerate(texts):
        ids = tok.encode(text).ids
        rec = Recorder()
        attach_hooks("bert", model, rec)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_attentions=True)
        rec.remove()
        tensors[f"{i}.attentions"] = torch.stack([a[0] for a in out.attentions]).contiguous()
        tensors[f"{i}.last_hidden_state"] = out.last_hidden_state[0].contiguous()
        if i == 0:
            for field, value in feed_forward_reference(rec.values, layers).items():
                tensors[f"{i}.{field}"] = value.contiguous()
        meta["texts"].append({"text": text, "input_ids": ids})
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    print("minilm reference written")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm", help="folder with the real all-MiniLM-L6-v2 files")
    args = parser.parse_args()
    torch.manual_seed(0)
    gpt2_fixtures()
    distilbert_fixture()
    bert_fixtures()
    if args.minilm:
        minilm_reference(args.minilm)


if __name__ == "__main__":
    main()
