"""Synthetic MUSHRA ratings in the ratings-frame contract, for tests, benchmarks and trying the reports.

Scores are ``true quality + rater bias + noise`` clipped to 0..100 and rounded to integers (as a slider gives).
Codec quality rises with log bitrate. Nothing here is presented as measured data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.vocabulary import condition_id

DEFAULT_CODECS = {"opus": (6, 12, 24, 48), "lyra": (3.2, 6, 9.2), "encodec_24khz": (1.5, 3, 6, 12)}


def synthetic_ratings(*, n_raters: int = 20, n_items: int = 6, categories=("speech", "music"),
                      codecs: dict[str, tuple[float, ...]] | None = None, noise: float = 8.0, seed: int = 0
                      ) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codecs = codecs or DEFAULT_CODECS
    conds = [("reference", "reference", None, np.nan, 98.0), ("lp3.5", "anchor", None, np.nan, 22.0),
             ("lp7", "anchor", None, np.nan, 48.0)]
    for ci, (codec, ladder) in enumerate(sorted(codecs.items())):
        for k in ladder:
            q = float(np.clip(25 + 18 * np.log2(k) - 4 * ci, 5, 95))
            conds.append((condition_id(codec, k), "codec", codec, float(k), q))
    items = [(f"item{i:02d}", categories[i % len(categories)]) for i in range(n_items)]
    n_c, n_i = len(conds), len(items)
    rater_idx = np.repeat(np.arange(n_raters), n_i * n_c)
    item_idx = np.tile(np.repeat(np.arange(n_i), n_c), n_raters)
    cond_idx = np.tile(np.arange(n_c), n_raters * n_i)
    true = np.array([c[4] for c in conds])[cond_idx]
    bias = rng.normal(0, 4, n_raters)[rater_idx]
    item_eff = rng.normal(0, 3, n_i)[item_idx]
    is_ref = np.array([c[1] == "reference" for c in conds])[cond_idx]
    score = np.where(is_ref, 100 - np.abs(rng.normal(0, 3, true.size)),
                     true + bias + item_eff + rng.normal(0, noise, true.size))
    score = np.clip(np.round(score), 0, 100)
    trial = np.tile(np.repeat(np.arange(n_i), n_c), n_raters)
    kbps = np.array([c[3] for c in conds])[cond_idx]
    return pd.DataFrame({
        "rater": np.char.add("r", rater_idx.astype(str)), "session": np.char.add("s", rater_idx.astype(str)),
        "item": np.array([i[0] for i in items])[item_idx], "condition": np.array([c[0] for c in conds])[cond_idx],
        "score": score, "trial": trial, "codec": pd.array(np.array([c[2] for c in conds], dtype=object)[cond_idx]),
        "kbps": kbps, "measured_kbps": kbps * (1 + rng.normal(-0.02, 0.01, true.size)),
        "category": np.array([i[1] for i in items])[item_idx], "kind": np.array([c[1] for c in conds])[cond_idx],
        "plays": rng.integers(1, 6, true.size), "listen_ms": rng.uniform(3000, 20000, true.size),
        "submitted_at": "2026-01-01T00:00:00+00:00",
    })
