#!/usr/bin/env python3
"""PyTorch's time for what `cargo run --release --bin bench` measures: a random GPT-2 small
(transformers, eager attention, f32, CPU), full trace (attentions + hidden states + all logits),
predictions only, and gradient x input saliency. Median of N after one warm-up."""
import argparse
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def median_ms(runs, fn):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[runs // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(attn_implementation="eager")).eval()
    ids = torch.tensor([[(i * 7919) % 50257 for i in range(args.tokens)]])

    def trace():
        with torch.no_grad():
            model(input_ids=ids, output_attentions=True, output_hidden_states=True)

    def predict():
        with torch.no_grad():
            hidden = model.transformer(input_ids=ids).last_hidden_state
            torch.softmax(model.lm_head(hidden[:, -1]), -1).topk(10)

    def saliency():
        embeddings = model.transformer.wte(ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=embeddings).logits[0, -1]
        logits[logits.argmax()].backward()
        scores = (embeddings.grad * embeddings).norm(dim=-1)
        (scores / scores.sum()).tolist()

    print(f"| PyTorch {torch.__version__} (CPU) | GPT-2 small, {args.tokens} tokens | median of {args.runs} |")
    print("|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        t, p, s = (median_ms(args.runs, f) for f in (trace, predict, saliency))
        print(f"| {threads} thread(s): full trace / predictions / saliency | {t:.1f} / {p:.1f} / {s:.1f} ms | |")


if __name__ == "__main__":
    main()
