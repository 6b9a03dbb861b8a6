"""T5's relative position buckets as transformers computes them, for the T5 fixture's
configuration and t5-small's: tests/fixtures/t5_buckets.json. Run with the reference venv
(torch + transformers): python tools/make_t5_bucket_fixture.py"""
import json

import torch
from transformers.models.t5.modeling_t5 import T5Attention

DISTANCES = list(range(-200, 201))


def buckets(bidirectional, num_buckets, max_distance):
    relative = torch.tensor(DISTANCES)
    return T5Attention._relative_position_bucket(
        relative, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    ).tolist()


def main():
    cases = []
    for name, num_buckets, max_distance in [("fixture", 8, 16), ("t5-small", 32, 128)]:
        for bidirectional in (True, False):
            cases.append({
                "config": name,
                "num_buckets": num_buckets,
                "max_distance": max_distance,
                "bidirectional": bidirectional,
                "distances": DISTANCES,
                "buckets": buckets(bidirectional, num_buckets, max_distance),
            })
    with open("tests/fixtures/t5_buckets.json", "w") as out:
        json.dump({"transformers": __import__("transformers").__version__, "cases": cases}, out)
        out.write("\n")


if __name__ == "__main__":
    main()
