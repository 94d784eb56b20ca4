"""Synthetic MUSHRA ratings in the ratings-frame contract, for tests, benchmarks and trying the reports.

Scores are ``true quality + rater bias + noise`` clipped to 0..100 and rounded to integers (as a slider gives).
Codec quality rises with log bitrate. Nothing here is presented as measured data.
"""

from __future__ import annotations

import math

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


def clipped_normal_mean(mean, sd, *, low: float = 0.0, high: float = 100.0):
    """E[clip(X, low, high)] for X ~ N(mean, sd^2) (closed form; arrays broadcast)."""
    from scipy.stats import norm

    m, s = np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64)
    a, b = (low - m) / s, (high - m) / s
    lo_part = low * norm.cdf(a) if math.isfinite(low) else 0.0
    hi_part = high * norm.sf(b) if math.isfinite(high) else 0.0
    return lo_part + hi_part + m * (norm.cdf(b) - norm.cdf(a)) + s * (norm.pdf(a) - norm.pdf(b))


def clustered_study(*, n_raters: int, n_items: int, condition_means=(20.0, 45.0, 60.0, 75.0, 88.0, 96.0),
                    sd_rater: float = 8.0, sd_rater_condition: float = 6.0, sd_item: float = 6.0,
                    sd_item_condition: float = 4.0, sd_residual: float = 10.0, n_studies: int = 1, seed: int = 0,
                    clip: bool = True, items_per_rater: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated MUSHRA studies with clustered ratings, and the true value of each estimand.

    ``score = clip(round(mu_c + rater_r + (rater x condition)_rc + item_i + (item x condition)_ic + e), 0, 100)``,
    every rater rating every item in every condition (``clip=False``: unrounded, unclipped linear model), or, with
    ``items_per_rater = k``, a random k of the items (all conditions of each), as crowd studies assign them.
    ``n_studies`` independent studies are stacked, study ``k`` in ``category == "s{k}"`` (rater and item ids unique
    per study), so one vectorised call analyses them all. Returns ``(ratings, truth)``; ``truth`` has per (category,
    condition) ``true_fixed`` (mean over the study's items of the population-of-raters mean, clipping included) and
    ``true_random`` (over raters and items).
    """
    rng = np.random.default_rng(seed)
    mu = np.asarray(condition_means, dtype=np.float64)
    S, R, I, C = n_studies, n_raters, n_items, mu.size
    rater = rng.normal(0, sd_rater, (S, R, 1, 1)) + rng.normal(0, sd_rater_condition, (S, R, 1, C))
    item = rng.normal(0, sd_item, (S, 1, I, 1)) + rng.normal(0, sd_item_condition, (S, 1, I, C))
    x = mu + rater + item + rng.normal(0, sd_residual, (S, R, I, C))
    score = np.clip(np.round(x), 0, 100) if clip else x
    s_idx, r_idx, i_idx, c_idx = (a.ravel() for a in np.indices((S, R, I, C)))
    cats = np.char.add("s", np.arange(S).astype(str))
    conds = np.array([f"c{c}" for c in range(C)])
    keep = slice(None)
    if items_per_rater is not None and items_per_rater < I:
        rank = rng.random((S, R, I)).argsort(axis=2).argsort(axis=2)  # a random order of items per rater
        keep = np.broadcast_to((rank < items_per_rater)[..., None], (S, R, I, C)).ravel()
    s_idx, r_idx, i_idx, c_idx, score = s_idx[keep], r_idx[keep], i_idx[keep], c_idx[keep], score.ravel()[keep]
    ratings = pd.DataFrame({"category": cats[s_idx], "rater": np.char.add(cats[s_idx], np.char.add(
        "r", r_idx.astype(str))), "item": np.char.add(cats[s_idx], np.char.add("i", i_idx.astype(str))),
        "condition": conds[c_idx], "score": score, "kind": "codec"})
    sd_within = math.sqrt(sd_rater ** 2 + sd_rater_condition ** 2 + sd_residual ** 2)
    lim = (0.0, 100.0) if clip else (-np.inf, np.inf)
    per_item = clipped_normal_mean(mu + item[:, 0, :, :], sd_within, low=lim[0], high=lim[1])  # (S, I, C)
    sd_all = math.sqrt(sd_within ** 2 + sd_item ** 2 + sd_item_condition ** 2)
    truth = pd.DataFrame({"category": np.repeat(cats, C), "condition": np.tile(conds, S),
                          "true_fixed": per_item.mean(axis=1).ravel(),
                          "true_random": np.tile(clipped_normal_mean(mu, sd_all, low=lim[0], high=lim[1]), S)})
    return ratings, truth
