#!/usr/bin/env python3
"""Builds tests/fixtures/marian_spm: a Marian-style tokenizer folder (source.spm, target.spm,
vocab.json, trained here with sentencepiece, nmt_nfkc normalisation) and reference.json, the ids
transformers' MarianTokenizer gives for sentences full of Unicode. tests/marian_tokenizer.rs
converts the folder with tools/convert_marian_tokenizer.py and checks the engine gives the same
ids, for sources (source.spm) and for targets (target.spm, `text_target=`). Needs sentencepiece +
transformers (tests never do).

    /opt/ref-venv/bin/python tools/make_marian_spm_fixture.py
"""
import json
import os
import tempfile

import sentencepiece as spm
import transformers
from transformers import MarianTokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "marian_spm")
ENGLISH = [
    "The house is wonderful.", "Attention is all you need.", "The cat sat on the mat.",
    "naïve café résumé, ½ of the ﬁne Ｆｕｌｌ ｗｉｄｔｈ text", "A student types a sentence.",
    "Queries, keys and values: every word looks at every other word.",
] * 20
GERMAN = [
    "Das Haus ist wunderbar.", "Aufmerksamkeit ist alles, was du brauchst.",
    "Die Katze saß auf der Matte.", "Straße, Größe, Übung und Öl.", "Ein Schüler tippt einen Satz.",
] * 20
SENTENCES = [
    "The house is wonderful.",
    ">>deu<< Attention is all you need.",
    "naïve café résumé ½ ﬁne",
    "Ｆｕｌｌ ｗｉｄｔｈ and  two   spaces ",
    "e\u0301 combining, Straße, 中文 注意力, 😀",
    "\u3000ideographic space\u3000and a\ttab ",
    "Zero\u200bwidth and right-to-left: שלום مرحبا",
    "",
]

# Targets, cut by target.spm (German pieces) where the source side would cut them differently.
# Not "½": NFKC makes it 1⁄2, which target.spm does not know, and SentencePiece fuses a run of
# unknown characters into one <unk>, where the converted tokenizer keeps the characters that
# vocab.json holds (tools/convert_marian_tokenizer.py says so).
TARGETS = [
    "Das Haus ist wunderbar.",
    "Straße, Größe, Übung und Öl.",
    "Die Katze saß auf der Matte, ﬁne.",
    "Aufmerksamkeit  ist alles ",
    "",
]


def train(sentences, prefix):
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=prefix, vocab_size=60, hard_vocab_limit=False,
        model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=1.0,
        minloglevel=2)
    processor = spm.SentencePieceProcessor(model_file=prefix + ".model")
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = train(ENGLISH, os.path.join(tmp, "source"))
        target = train(GERMAN, os.path.join(tmp, "target"))
        for side in ("source", "target"):
            with open(os.path.join(tmp, side + ".model"), "rb") as f, \
                    open(os.path.join(OUT, side + ".spm"), "wb") as out:
                out.write(f.read())
    specials = {"<unk>", "<s>", "</s>"}
    pieces = ["</s>", "<unk>"]
    for piece in source + target:
        if piece not in specials and piece not in pieces:
            pieces.append(piece)
    pieces += [">>deu<<", ">>fra<<", "<pad>"]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    tok = MarianTokenizer(os.path.join(OUT, "source.spm"), os.path.join(OUT, "target.spm"),
                          os.path.join(OUT, "vocab.json"))
    reference = {"transformers": transformers.__version__,
                 "sentences": [{"text": s, "ids": tok(s)["input_ids"]} for s in SENTENCES],
                 "targets": [{"text": s, "ids": tok(text_target=s)["input_ids"]} for s in TARGETS]}
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)
    print(json.dumps(reference, ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
