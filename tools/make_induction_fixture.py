#!/usr/bin/env python3
"""A tiny GPT-2 whose weights implement an induction head, and transformers' scores for it.

An induction head completes … A B … A → B: from the second A it attends to the B that followed
the first A and copies it. It needs two heads in a row (Olsson et al. 2022): a previous-token
head in layer 1 writes each token's predecessor into its position, and the induction head in
layer 2 matches the current token against those predecessors. Models trained on repeated
random tokens at this size found other circuits (matching on the 3–5 tokens before, or on
positions), so the weights here are written by hand, each head one formula:

  residual (d_model 128)   dims 0–31: the token's vector u_t (random, zero-sum, unit length)
                           dims 32–63: its position as 16 sinusoid pairs, ω_k = (2k−1)π/32
                           dims 64–95: the previous token's vector (written by layer 1)
                           dims 124–127: minus the sum of each part, so that every residual
                           sums to 0 and LayerNorm only rescales it
  layer 1, head 1          q = R(−ω)·position, k = position: Σ_k cos ω_k (i − 1 − j) is 16 at
                           j = i − 1 and 0 or −16 elsewhere, so it attends to the previous
                           token; v = the token's vector, written to dims 64–95
  layer 2, head 1          q = the token's vector, k = dims 64–95 (the previous token's):
                           the score peaks where the previous token equals the current one;
                           v = that position's token vector, written ×LAMBDA back to dims 0–31
  every other head, both feed-forward networks: zero (they attend evenly and add nothing)
  the head: GPT-2's tied embedding, so the logits peak at the copied token.

The gpt2 fixture's tokenizer and vocabulary (320). Writes tests/fixtures/induction/
{config.json, tokenizer.json, model.safetensors} and reference.json: a sequence
[<|endoftext|>] + R + R (R: 20 random tokens) with every head's induction score on it from
transformers' attentions — the mean over the second copy of the weight from position i to
i − period + 1 — the head that scores highest, and how often the model predicts the second
copy's next token.

    python tools/make_induction_fixture.py
"""
import json
import math
import os
import shutil

import torch
import transformers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
OUT = os.path.join(ROOT, "induction")
VOCAB, POSITIONS, D_MODEL, HEADS = 320, 64, 128, 4
D_HEAD = D_MODEL // HEADS
TOKEN, POSITION, PREVIOUS = 0, 32, 64  # where each part of the residual starts
BALANCE = {"token": 124, "position": 125, "previous": 126, "copied": 127}
START = 0  # <|endoftext|>
PERIOD = 20
PREVIOUS_SHARPNESS = 4.0  # multiplies the previous-token head's scores
MATCH_SHARPNESS = 40.0  # the induction head's
LAMBDA = 4.0  # how strongly the copied token is written


def balanced(vectors, dim):
    """`vectors` [n, d_model] with `dim` set to minus each row's sum: every row sums to 0."""
    vectors[:, dim] = 0.0
    vectors[:, dim] = -vectors.sum(1)
    return vectors


def embeddings(generator):
    tokens = torch.zeros(VOCAB, D_MODEL)
    u = torch.randn(VOCAB, D_HEAD, generator=generator)
    # Zero-sum token vectors: what each head copies sums to 0 too, and the balance dimension of
    # the tied head adds nothing to the logits.
    u = u - u.mean(1, keepdim=True)
    tokens[:, TOKEN:TOKEN + D_HEAD] = u / u.norm(dim=1, keepdim=True)
    positions = torch.zeros(POSITIONS, D_MODEL)
    p = torch.arange(POSITIONS, dtype=torch.float32)
    for k in range(D_HEAD // 2):
        omega = (2 * k + 1) * math.pi / 32
        positions[:, POSITION + 2 * k] = torch.cos(omega * p)
        positions[:, POSITION + 2 * k + 1] = torch.sin(omega * p)
    return balanced(tokens, BALANCE["token"]), balanced(positions, BALANCE["position"])


def previous_token_head(attn):
    """Layer 1, head 1: attends to the previous position and copies its token's vector."""
    w = attn.c_attn.weight  # [d_model, 3·d_model]: x @ w = q | k | v
    for k in range(D_HEAD // 2):
        omega = (2 * k + 1) * math.pi / 32
        c, s = POSITION + 2 * k, POSITION + 2 * k + 1
        # q = R(−ω)·(cos ωi, sin ωi) = (cos ω(i−1), sin ω(i−1)).
        w[c, 2 * k], w[s, 2 * k] = math.cos(omega), math.sin(omega)
        w[c, 2 * k + 1], w[s, 2 * k + 1] = -math.sin(omega), math.cos(omega)
        w[:, 2 * k:2 * k + 2] *= PREVIOUS_SHARPNESS
        w[c, D_MODEL + 2 * k], w[s, D_MODEL + 2 * k + 1] = 1.0, 1.0
    for t in range(D_HEAD):
        w[TOKEN + t, 2 * D_MODEL + t] = 1.0
        attn.c_proj.weight[t, PREVIOUS + t] = 1.0
    attn.c_proj.weight[:D_HEAD, BALANCE["previous"]] = -1.0


def induction_head(attn):
    """Layer 2, head 1: matches the token against each position's previous token, copies."""
    w = attn.c_attn.weight
    for t in range(D_HEAD):
        w[TOKEN + t, t] = MATCH_SHARPNESS
        w[PREVIOUS + t, D_MODEL + t] = 1.0
        w[TOKEN + t, 2 * D_MODEL + t] = 1.0
        attn.c_proj.weight[t, TOKEN + t] = LAMBDA
    attn.c_proj.weight[:D_HEAD, BALANCE["copied"]] = -LAMBDA


def build():
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=POSITIONS, n_embd=D_MODEL, n_layer=2, n_head=HEADS,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=START, eos_token_id=START, tie_word_embeddings=True)
    model = transformers.GPT2LMHeadModel(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.fill_(1.0 if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight"))
                            else 0.0)
        tokens, positions = embeddings(torch.Generator().manual_seed(0))
        model.transformer.wte.weight.copy_(tokens)
        model.transformer.wpe.weight.copy_(positions)
        previous_token_head(model.transformer.h[0].attn)
        induction_head(model.transformer.h[1].attn)
    return model.eval()


def induction_scores(attentions, period):
    """[layer][head]: the mean over i in the second copy of attention[i][i − period + 1]."""
    rows = torch.arange(period + 1, 2 * period + 1)
    return [layer[0][:, rows, rows - period + 1].mean(-1).tolist() for layer in attentions]


def main():
    model = build()
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    generation = os.path.join(OUT, "generation_config.json")
    if os.path.exists(generation):
        os.remove(generation)
    shutil.copy(os.path.join(ROOT, "gpt2", "tokenizer.json"), os.path.join(OUT, "tokenizer.json"))
    # The reference comes from the saved model, loaded as anyone would.
    model = transformers.GPT2LMHeadModel.from_pretrained(OUT, attn_implementation="eager").eval()
    r = torch.randint(1, VOCAB, (PERIOD,), generator=torch.Generator().manual_seed(2))
    ids = torch.cat([torch.tensor([START]), r, r]).unsqueeze(0)
    with torch.no_grad():
        out = model(ids, output_attentions=True)
    scores = induction_scores(out.attentions, PERIOD)
    positions = torch.arange(PERIOD + 1, 2 * PERIOD)
    copied = (out.logits[0, positions].argmax(-1) == ids[0, positions + 1]).float().mean().item()
    previous = out.attentions[0][0, 0, torch.arange(1, 2 * PERIOD + 1),
                                 torch.arange(0, 2 * PERIOD)].mean().item()
    flat = [(s, l, h) for l, row in enumerate(scores) for h, s in enumerate(row)]
    best, layer, head = max(flat)
    print(f"induction scores {[[round(s, 3) for s in row] for row in scores]}")
    print(f"the induction head: layer {layer + 1}, head {head + 1}, score {best:.3f}; "
          f"layer 1 head 1 gives the previous token {previous:.3f}; "
          f"the second copy's next token predicted {copied:.3f}")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"ids": ids[0].tolist(), "period": PERIOD, "scores": scores,
                   "induction_head": [layer, head], "previous_token_weight": previous,
                   "copy_accuracy": copied}, f, indent=1)


if __name__ == "__main__":
    main()
