#!/usr/bin/env python3
"""scikit-learn's NMF on the matrices the engine factorises, the bar its own NMF must reach.

tests/fixtures/nmf.safetensors holds the matrices (non-negative, [tokens, neurons]):
  gpt2.{text}  the tiny GPT-2 fixture's MLP activations of both layers side by side, negatives
               set to 0 as Ecco does (from tests/fixtures/gpt2/reference.safetensors);
  synthetic    32 x 1024, a seeded non-negative low-rank matrix plus noise (a GPT-2-sized text).
tests/fixtures/nmf.json: for each matrix and factor count, scikit-learn's reconstruction error
(Frobenius) with init='nndsvd' and its default coordinate-descent solver.

    python tools/make_nmf_fixture.py
"""
import json
import os

import numpy as np
import sklearn
from safetensors.numpy import load_file, save_file
from sklearn.decomposition import NMF

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def matrices():
    reference = load_file(os.path.join(ROOT, "gpt2", "reference.safetensors"))
    out = {}
    for text in (0, 1):
        activations = reference[f"{text}.mlp_activations"]  # [layer, token, d_ff]
        merged = np.concatenate(list(activations), axis=1)  # [token, layer * d_ff]
        out[f"gpt2.{text}"] = np.maximum(merged, 0).astype(np.float32)
    rng = np.random.default_rng(7)
    low_rank = rng.gamma(1.0, 1.0, (32, 6)) @ rng.gamma(0.5, 1.0, (6, 1024))
    noise = rng.gamma(0.3, 0.3, (32, 1024))
    out["synthetic"] = (low_rank * (rng.random((32, 1024)) > 0.3) + noise).astype(np.float32)
    return out


def main():
    mats = matrices()
    cases = []
    for name, counts in [("gpt2.0", [2, 4, 8]), ("gpt2.1", [2, 8]), ("synthetic", [2, 8, 18])]:
        for k in counts:
            model = NMF(n_components=k, init="nndsvd", max_iter=200, random_state=0)
            model.fit_transform(mats[name].astype(np.float64))
            cases.append({"matrix": name, "factors": k,
                          "sklearn_error": float(model.reconstruction_err_),
                          "sklearn_iterations": int(model.n_iter_)})
    save_file(mats, os.path.join(ROOT, "nmf.safetensors"))
    with open(os.path.join(ROOT, "nmf.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f, indent=1)
    for c in cases:
        print(c)


if __name__ == "__main__":
    main()
