#!/usr/bin/env python3
"""Writes tokenizer.json for a Marian (Helsinki-NLP/opus-mt-*) model folder, which ships
SentencePiece files (source.spm, target.spm) and vocab.json instead: the page's `tokenizers`
reads only tokenizer.json. Python's standard library only (no sentencepiece, no transformers).

    python3 tools/convert_marian_tokenizer.py DIR [OUT]     (OUT defaults to DIR/tokenizer.json)

and, from target.spm, target_tokenizer.json beside OUT: what MarianTokenizer does to a target
(`text_target=`), which the engine uses for the target a student types.

What transformers' MarianTokenizer does to a source, the written tokenizer does too:
source.spm's normalisation (its precompiled character map, e.g. nmt_nfkc, and one space for
many) and its Unigram pieces with their scores, `▁` before every word, the ids from vocab.json
(the pieces of vocab.json that source.spm lacks are never chosen), `</s>` at the end, and the
language codes (`>>deu<<`) kept whole. The target side is the same with target.spm's
normalisation and pieces.

One difference remains: SentencePiece fuses a run of two or more characters its model does not
know into one piece, which MarianTokenizer turns into <unk>; the written tokenizer keeps each
such character that vocab.json holds (from the other side's model) as its own token.
"""
import base64
import json
import os
import re
import struct
import sys

# Scores for vocab.json pieces that source.spm does not know: never worth choosing. A single
# character source.spm does not know is its own piece there (scored as SentencePiece scores an
# unknown piece, the lowest score less 10), which MarianTokenizer then looks up in vocab.json.
ABSENT_PIECE_SCORE = -1e9
UNKNOWN_PIECE_PENALTY = 10.0
# The target side's tokenizer, beside tokenizer.json (the engine and the page look for this name).
TARGET_FILE = "target_tokenizer.json"


def varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(data):
    """The (field number, wire type, value) of one protobuf message, in order."""
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def read_spm(path):
    """The pieces {piece: score} and the normaliser's settings of a SentencePiece model."""
    with open(path, "rb") as f:
        data = f.read()
    pieces, normalizer, model_type = {}, {}, 1
    for number, _, value in fields(data):
        if number == 1:  # SentencePiece
            piece, score = None, 0.0
            for n, _, v in fields(value):
                if n == 1:
                    piece = v.decode("utf-8")
                elif n == 2:
                    score = struct.unpack("<f", v)[0]
            pieces[piece] = score
        elif number == 2:  # TrainerSpec
            for n, _, v in fields(value):
                if n == 3:
                    model_type = v
        elif number == 3:  # NormalizerSpec
            for n, _, v in fields(value):
                if n == 1:
                    normalizer["name"] = v.decode("utf-8")
                elif n == 2:
                    normalizer["charsmap"] = v
                elif n == 3:
                    normalizer["add_dummy_prefix"] = bool(v)
                elif n == 4:
                    normalizer["remove_extra_whitespaces"] = bool(v)
    if model_type != 1:
        raise ValueError(f"{path} is not a Unigram SentencePiece model (type {model_type})")
    return pieces, normalizer


def tokenizer_json(spm_pieces, normalizer, vocab):
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError("vocab.json's ids are not 0, 1, 2 … without gaps")
    specials = {"</s>", "<unk>", "<pad>"}
    unknown_character = min(spm_pieces.values()) - UNKNOWN_PIECE_PENALTY

    def score(piece):
        if piece in specials:
            return 0.0
        if piece in spm_pieces:
            return spm_pieces[piece]
        return unknown_character if len(piece) == 1 else ABSENT_PIECE_SCORE

    scores = [[piece, score(piece)] for piece, _ in by_id]
    language_codes = [piece for piece, _ in by_id if re.fullmatch(r">>.+<<", piece)]
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": t in specials}
             for t in sorted(specials & vocab.keys()) + language_codes]
    steps = []
    if normalizer.get("charsmap"):
        steps.append({"type": "Precompiled",
                      "precompiled_charsmap": base64.b64encode(normalizer["charsmap"]).decode()})
    if normalizer.get("remove_extra_whitespaces", True):
        # SentencePiece drops leading and trailing spaces and keeps one of several.
        steps.append({"type": "Strip", "strip_left": True, "strip_right": True})
        steps.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    metaspace = {"type": "Metaspace", "replacement": "▁", "split": True,
                 "prepend_scheme": "always" if normalizer.get("add_dummy_prefix", True) else "never"}
    eos = {"id": "</s>", "type_id": 0}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": steps},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": eos}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": eos}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [vocab["</s>"]], "tokens": ["</s>"]}},
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": vocab["<unk>"], "vocab": scores,
                  "byte_fallback": False},
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(folder, "tokenizer.json")
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    outputs = [("source.spm", out)]
    if os.path.exists(os.path.join(folder, "target.spm")):
        outputs.append(("target.spm", os.path.join(os.path.dirname(out) or ".", TARGET_FILE)))
    for spm_file, path in outputs:
        pieces, normalizer = read_spm(os.path.join(folder, spm_file))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(pieces, normalizer, vocab), f, ensure_ascii=False)
        print(f"convert-marian: wrote {path} from {spm_file} ({len(vocab)} tokens)")


if __name__ == "__main__":
    main()
