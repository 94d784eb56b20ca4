"""Coverage of interval methods on simulated clustered MUSHRA studies (used by ``benchmarks/bench_coverage.py``
and its fast test).

Every method gets the same stacked studies from :func:`harness.analysis.synthetic.clustered_study` and is scored
against the true value of *its* estimand: ``true_fixed`` (raters random, the study's items fixed) for the
rater-cluster methods and the per-rating intervals, ``true_random`` (raters and items random) for the two-way
method. Coverage is the share of (study, condition) intervals containing the truth; its Monte-Carlo standard error
is ``sqrt(p (1 - p) / n_intervals)`` (intervals of one study share raters, so treat it as a lower bound).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.analysis.stats import bootstrap_interval
from harness.inference import rater_aware_summary

GROUPS = ["category", "condition"]


def _per_rating_t(ratings: pd.DataFrame, confidence: float) -> pd.DataFrame:
    g = ratings.groupby(GROUPS)["score"].agg(["mean", "std", "size"]).reset_index()
    h = sst.t.ppf(0.5 + confidence / 2, g["size"] - 1) * g["std"] / np.sqrt(g["size"])
    return g.assign(ci_low=g["mean"] - h, ci_high=g["mean"] + h)[GROUPS + ["ci_low", "ci_high"]]


def _per_rating_boot(ratings: pd.DataFrame, confidence: float, n_resamples: int, seed: int) -> pd.DataFrame:
    rows, rng = [], np.random.default_rng(seed)
    for key, g in ratings.groupby(GROUPS, sort=False):
        lo, hi = bootstrap_interval(g["score"].to_numpy(), n_resamples=n_resamples, seed=rng, method="bca",
                                    confidence=confidence)
        rows.append((*key, lo, hi))
    return pd.DataFrame(rows, columns=GROUPS + ["ci_low", "ci_high"])


def _rater_boot(ratings: pd.DataFrame, confidence: float, n_resamples: int, seed: int) -> pd.DataFrame:
    """Percentile bootstrap resampling whole raters (their mean over items), per group."""
    pm = ratings.groupby(GROUPS + ["rater"], sort=False)["score"].mean()
    rows, rng, a = [], np.random.default_rng(seed), (1 - confidence) / 2
    for key, x in pm.groupby(level=[0, 1], sort=False):
        v = x.to_numpy()
        boot = v[rng.integers(0, v.size, (n_resamples, v.size))].mean(axis=1)
        rows.append((*key, *np.quantile(boot, [a, 1 - a])))
    return pd.DataFrame(rows, columns=GROUPS + ["ci_low", "ci_high"])


def _mixedlm(ratings: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """statsmodels MixedLM per study: score ~ 0 + condition, random rater intercept + rater x condition."""
    import statsmodels.formula.api as smf

    rows, z = [], sst.norm.ppf(0.5 + confidence / 2)
    for cat, g in ratings.groupby("category", sort=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.mixedlm("score ~ 0 + C(condition)", g, groups=g["rater"], re_formula="1",
                              vc_formula={"rc": "0 + C(condition)"}).fit(reml=True)
        for name, est in fit.fe_params.items():
            se = float(fit.bse_fe[name])
            rows.append((cat, name.split("[")[1].rstrip("]"), est - z * se, est + z * se))
    return pd.DataFrame(rows, columns=GROUPS + ["ci_low", "ci_high"])


def interval_table(ratings: pd.DataFrame, method: str, *, confidence: float = 0.95, n_resamples: int = 2000,
                   seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Intervals of ``method`` per (study, condition), and the truth column they estimate."""
    if method == "rater-cluster t (default)":
        return rater_aware_summary(ratings, confidence=confidence), "true_fixed"
    if method == "two-way cluster t (--items random)":
        return rater_aware_summary(ratings, items="random", confidence=confidence), "true_random"
    if method == "per-rating t (BS.1534-3)":
        return _per_rating_t(ratings, confidence), "true_fixed"
    if method == "per-rating BCa bootstrap":
        return _per_rating_boot(ratings, confidence, n_resamples, seed), "true_fixed"
    if method == "rater bootstrap (percentile)":
        return _rater_boot(ratings, confidence, n_resamples, seed), "true_fixed"
    if method == "MixedLM (Wald)":
        return _mixedlm(ratings, confidence), "true_fixed"
    raise ValueError(f"unknown method {method!r}")


METHODS = ("rater-cluster t (default)", "two-way cluster t (--items random)", "per-rating t (BS.1534-3)",
           "per-rating BCa bootstrap", "rater bootstrap (percentile)", "MixedLM (Wald)")


def coverage(ratings: pd.DataFrame, truth: pd.DataFrame, method: str, *, confidence: float = 0.95,
             n_resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Coverage, its Monte-Carlo SE, mean half-width and number of intervals for one method."""
    ci, col = interval_table(ratings, method, confidence=confidence, n_resamples=n_resamples, seed=seed)
    m = ci.merge(truth, on=GROUPS, how="inner")
    hit = (m["ci_low"] <= m[col]) & (m[col] <= m["ci_high"])
    p, n = float(hit.mean()), int(len(m))
    return {"coverage": p, "mc_se": math.sqrt(p * (1 - p) / n) if n else math.nan,
            "mean_half_width": float(((m["ci_high"] - m["ci_low"]) / 2).mean()), "n_intervals": n}
