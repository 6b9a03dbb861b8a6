#!/usr/bin/env python3
"""Trains the small translator the page ships offline: spelled-out English dates into ISO dates,
a task whose right alignment is known (the year's digits come from the year's words, the month's
from the month's name, the day's from the day's words).

    "the twenty first of march nineteen ninety nine"  ->  "1999-03-21"
    "march the fourth two thousand and eight"         ->  "2008-03-04"

The model is transformers' MarianMTModel (sinusoidal positions as in "Attention Is All You
Need", embeddings scaled by √d_model, post-norm blocks), small enough to train in minutes on two
CPU cores; everything is seeded. It writes config.json, tokenizer.json (and the same as
target_tokenizer.json: both sides share its characters) and model.safetensors to
OUT (default assets/date-translator), REPORT.md (the held-out exact-match accuracy and how much
of each part's digits' cross-attention lands on that part's words) and held_out.json (twelve
held-out pairs with their word spans, for the tests).

    /opt/ref-venv/bin/python tools/train_translator.py [OUT]
"""
import json
import os
import random
import sys
import time

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import MarianConfig, MarianMTModel

SEED = 20261204
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "assets", "date-translator")

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
            "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def below_hundred(n):
    if n < 20:
        return [ONES[n]]
    return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])


def ordinal(day):
    if day <= 20:
        return [ORDINALS[day]]
    if day == 30:
        return ["thirtieth"]
    return [TENS[day // 10], ORDINALS[day % 10]]


def year_words(year):
    """1999 -> nineteen ninety nine; 2008 -> two thousand and eight; 1905 -> nineteen oh five."""
    if 2000 <= year < 2010:
        return ["two", "thousand"] + (["and"] + below_hundred(year % 100) if year % 100 else [])
    high, low = divmod(year, 100)
    if low == 0:
        return below_hundred(high) + ["hundred"]
    if low < 10:
        return below_hundred(high) + ["oh"] + below_hundred(low)
    return below_hundred(high) + below_hundred(low)


def spelled(year, month, day, form):
    """The source sentence in one of three forms, and which words are the year's."""
    day_words, month_word, year_part = ordinal(day), MONTHS[month - 1], year_words(year)
    if form == 0:
        words = ["the"] + day_words + ["of", month_word] + year_part
    elif form == 1:
        words = [month_word, "the"] + day_words + year_part
    else:
        words = day_words + [month_word] + year_part
    return " ".join(words), len(words) - len(year_part)


def iso(year, month, day):
    return f"{year:04d}-{month:02d}-{day:02d}"


def all_dates():
    return [(y, m, d) for y in range(1900, 2100) for m in range(1, 13)
            for d in range(1, DAYS_IN_MONTH[m - 1] + 1)
            if not (m == 2 and d == 29 and (y % 4 or (y % 100 == 0 and y % 400)))]


def build_tokenizer():
    """Word-level: every source word is one token; every target character (digit, '-') one
    token. Metaspace marks word starts with ▁, so the decoder writes '1999-03-21' back."""
    words = set(ONES + TENS[2:] + ORDINALS[1:] + MONTHS + ["thirtieth", "the", "of", "oh", "and",
                                                           "thousand", "hundred"])
    specials = ["</s>", "<unk>"]
    pieces = ["▁" + w for w in sorted(words)] + list("0123456789-") + ["▁"]
    vocab = {t: i for i, t in enumerate(specials + pieces + ["<pad>"])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(), pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(specials + ["<pad>"])
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])])
    return tok, vocab


def batches(examples, tok, pad, size, rng):
    order = list(range(len(examples)))
    rng.shuffle(order)
    for start in range(0, len(order), size):
        chunk = [examples[i] for i in order[start:start + size]]
        sources = [tok.encode(s).ids for s, _ in chunk]
        targets = [tok.encode(t).ids for _, t in chunk]
        yield pad_ids(sources, pad), pad_ids(targets, -100)


def pad_ids(rows, value):
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


def main():
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    tok, vocab = build_tokenizer()
    pad = vocab["<pad>"]
    dates = all_dates()
    rng = random.Random(SEED)
    rng.shuffle(dates)
    held_out, train_dates = dates[:1000], dates[1000:]
    def example(date, form):
        return spelled(*date, form)[0], iso(*date)
    train = [example(d, rng.randrange(3)) for d in train_dates[:40000]]
    test = [example(d, i % 3) for i, d in enumerate(held_out)]

    cfg = MarianConfig(vocab_size=len(vocab), decoder_vocab_size=len(vocab), d_model=64,
                       encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                       decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                       max_position_embeddings=32, activation_function="relu", dropout=0.0,
                       attention_dropout=0.0, activation_dropout=0.0, pad_token_id=pad,
                       eos_token_id=vocab["</s>"], decoder_start_token_id=pad,
                       forced_eos_token_id=None, scale_embedding=True,
                       share_encoder_decoder_embeddings=True, attn_implementation="eager")
    model = MarianMTModel(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    epochs, size = 6, 64
    steps = epochs * ((len(train) + size - 1) // size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps,
                                                    pct_start=0.1)
    started = time.time()
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for sources, labels in batches(train, tok, pad, size, rng):
            loss = model(input_ids=sources, attention_mask=(sources != pad).long(),
                         labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        print(f"epoch {epoch + 1}: mean loss {total / (len(train) / size):.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    model.eval()
    report = evaluate(model, tok, pad, test, held_out)
    report["training_seconds"] = round(time.time() - started)
    report["training_pairs"] = len(train)
    save(model, tok, report)
    # A few held-out pairs with their word spans, for the engine's tests.
    with open(os.path.join(OUT, "held_out.json"), "w") as f:
        json.dump([{"source": s, "target": t, "words": spans(held_out[i], i % 3),
                    "writes": WRITES} for i, (s, t) in enumerate(test[:12])], f, indent=1)


def spans(date, form):
    """The source word positions of the year, the month and the day."""
    source, year_start = spelled(*date, form)
    n_day = len(ordinal(date[2]))
    day_start = {0: 1, 1: 2, 2: 0}[form]
    month = {0: 1 + n_day + 1, 1: 0, 2: n_day}[form]
    return {"year": (year_start, len(source.split())), "month": (month, month + 1),
            "day": (day_start, day_start + n_day)}


# The target rows (decoder inputs) that write each part of "▁YYYY-MM-DD": row i writes target
# token i, and token 0 is the leading ▁.
WRITES = {"year": (1, 5), "month": (6, 8), "day": (9, 11)}


def evaluate(model, tok, pad, test, held_out):
    """Greedy exact match, and for each layer and head the share of each part's digits'
    cross-attention (teacher-forced) that lands on that part's words."""
    correct, shares = 0, {}
    with torch.no_grad():
        for i, (source, target) in enumerate(test):
            ids = torch.tensor([tok.encode(source).ids])
            written = model.generate(input_ids=ids, max_new_tokens=12, num_beams=1,
                                     do_sample=False, bad_words_ids=None, use_cache=False)
            correct += tok.decode(written[0].tolist(), skip_special_tokens=True) == target
            decoder_ids = torch.tensor([[pad] + tok.encode(target).ids[:-1]])
            out = model(input_ids=ids, decoder_input_ids=decoder_ids, output_attentions=True)
            words = spans(held_out[i], i % 3)
            for layer, cross in enumerate(out.cross_attentions):
                heads = cross[0]
                for head in ["mean"] + list(range(heads.shape[0])):
                    a = heads.mean(0) if head == "mean" else heads[head]
                    for part, (first, last) in WRITES.items():
                        start, end = words[part]
                        share = float(a[first:last, start:end].sum(-1).mean())
                        shares.setdefault((layer, head, part), []).append(share)
    report = {"held_out_pairs": len(test), "exact_match": correct / len(test)}
    last = len(model.model.decoder.layers) - 1
    for part in WRITES:
        report[f"{part}_digits_on_{part}_words_last_layer_mean_of_heads"] = \
            sum(shares[(last, "mean", part)]) / len(test)
        layer, head = max(((l, h) for l, h, p in shares if p == part and h != "mean"),
                          key=lambda lh: sum(shares[(lh[0], lh[1], part)]))
        report[f"{part}_best_head"] = f"layer {layer + 1} head {head + 1}: " \
            f"{sum(shares[(layer, head, part)]) / len(test):.3f}"
    return report


def save(model, tok, report):
    os.makedirs(OUT, exist_ok=True)
    model.config.to_json_file(os.path.join(OUT, "config.json"))
    tok.save(os.path.join(OUT, "tokenizer.json"))
    # A Marian folder's target side has its own tokenizer file; this model's two sides share
    # one vocabulary of characters, so it is the same tokenizer.
    tok.save(os.path.join(OUT, "target_tokenizer.json"))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()
             if not k.endswith(("embed_tokens.weight", "embed_positions.weight", "lm_head.weight"))}
    save_file(state, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "REPORT.md"), "w") as f:
        f.write("# date-translator: what tools/train_translator.py measured\n\n")
        f.write("| measure | value |\n|---|---|\n")
        for key, value in report.items():
            f.write(f"| {key} | {value:.4f} |\n" if isinstance(value, float) else
                    f"| {key} | {value} |\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
