"""Descriptive statistics and paired comparisons for MUSHRA ratings (pure: DataFrame in, DataFrame out).

- Per-rating mean with two 95 % confidence intervals: Student-t (``mean +- t_{0.975,n-1} s/sqrt(n)``, over
  ratings, as in ITU-R BS.1534-3 sec. 9.2) and bootstrap (10,000 resamples of the ratings with replacement, seeded, **BCa** by
  default - Efron 1987, bias-corrected and accelerated with the jackknife acceleration - or ``percentile``).
  The bootstrap is exact and vectorised: resampling n values with replacement is a multinomial draw over the
  distinct values, so groups of any size with few distinct scores (integer sliders) cost O(resamples x distinct).
- Median, quartiles (IQR), number of raters and of ratings.
- The default interval (``ci_low``/``ci_high``) is rater-aware (:mod:`harness.inference`); the per-rating intervals
  above are kept for comparison.
- Paired comparisons between conditions from the same estimator (difference with CI, t test, Cohen's d_z), plus the
  Wilcoxon signed-rank test on per-rater means as a check; p-values Holm-adjusted (Holm 1979). The Wilcoxon
  p-value is exact for up to 25 non-zero differences without ties, else the normal approximation.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.inference import ESTIMAND, METHODS, holm, paired_contrasts, rater_aware_summary

N_RESAMPLES = 10_000
CONFIDENCE = 0.95
SUMMARY_COLUMNS = ("n_ratings", "n_raters", "n_items", "mean", "sd", "ci_low", "ci_high", "half_width", "ci_method",
                   "mean_ratings", "ci_bs1534_low", "ci_bs1534_high", "ci_t_low", "ci_t_high", "ci_boot_low",
                   "ci_boot_high", "median", "q1", "q3", "iqr")
# ci_low/ci_high: the default rater-aware interval (harness.inference); the per-rating intervals are kept as
# ci_bs1534_* (= ci_t_*, Student-t over individual ratings, ITU-R BS.1534-3 sec. 9.2) and ci_boot_* (bootstrap over
# individual ratings); both treat ratings as independent and are too narrow for clustered MUSHRA data.


def t_interval(values: np.ndarray, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        return (math.nan, math.nan)
    m, se = x.mean(), x.std(ddof=1) / math.sqrt(n)
    h = sst.t.ppf(0.5 + confidence / 2, n - 1) * se
    return (float(m - h), float(m + h))


def bootstrap_means(values: np.ndarray, *, n_resamples: int = N_RESAMPLES, rng: np.random.Generator
                    ) -> np.ndarray:
    """Means of ``n_resamples`` resamples (with replacement, size n) of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    uniq, counts = np.unique(x, return_counts=True)
    if uniq.size * 4 <= n:  # few distinct values: cheaper than drawing n indices per resample
        draws = rng.multinomial(n, counts / n, size=n_resamples)  # exact: counts of each distinct value
        return draws @ uniq / n
    out = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // n)
    for i in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - i)
        out[i:i + k] = x[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return out


def bootstrap_interval(values: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int | np.random.Generator = 0,
                       method: str = "bca", confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Bootstrap CI of the mean: ``method`` ``"bca"`` (default) or ``"percentile"``."""
    if method not in ("bca", "percentile"):
        raise ValueError(f"bootstrap method must be 'bca' or 'percentile', got {method!r}")
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        return (math.nan, math.nan)
    if np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = bootstrap_means(x, n_resamples=n_resamples, rng=rng)
    alpha = (1 - confidence) / 2
    if method == "percentile":
        lo, hi = np.quantile(boot, [alpha, 1 - alpha])
        return (float(lo), float(hi))
    m = x.mean()
    prop = (np.count_nonzero(boot < m) + 0.5 * np.count_nonzero(boot == m)) / boot.size
    prop = min(max(prop, 1.0 / (2 * boot.size)), 1 - 1.0 / (2 * boot.size))
    z0 = sst.norm.ppf(prop)
    jack = (x.sum() - x) / (n - 1)  # leave-one-out means (closed form)
    d = jack.mean() - jack
    denom = 6.0 * (np.sum(d ** 2) ** 1.5)
    a = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
    qs = []
    for z in (sst.norm.ppf(alpha), sst.norm.ppf(1 - alpha)):
        adj = sst.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        qs.append(float(np.quantile(boot, min(max(adj, 0.0), 1.0))))
    return (qs[0], qs[1])


def _group_seed(seed: int, key) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(repr(key).encode())])


def describe(values: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = 0, method: str = "bca",
             key=None, bootstrap: bool = True) -> dict[str, float]:
    x = np.asarray(values, dtype=np.float64)
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75]) if x.size else (math.nan,) * 3
    t_lo, t_hi = t_interval(x)
    b_lo, b_hi = (bootstrap_interval(x, n_resamples=n_resamples, seed=_group_seed(seed, key), method=method)
                  if bootstrap else (math.nan, math.nan))
    return {"n_ratings": int(x.size), "mean": float(x.mean()) if x.size else math.nan,
            "sd": float(x.std(ddof=1)) if x.size > 1 else math.nan, "ci_t_low": t_lo, "ci_t_high": t_hi,
            "ci_boot_low": b_lo, "ci_boot_high": b_hi, "median": float(med), "q1": float(q1), "q3": float(q3),
            "iqr": float(q3 - q1)}


def summarize(frame: pd.DataFrame, by: tuple[str, ...] | list[str] = ("condition",), *,
              n_resamples: int = N_RESAMPLES, seed: int = 0, method: str = "bca", bootstrap: bool = True,
              items: str = "fixed", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per group of ``by``: :data:`SUMMARY_COLUMNS` plus kind/codec/kbps/measured_kbps where known.

    ``mean``/``ci_low``/``ci_high`` are the rater-aware estimate and interval (:func:`harness.inference.
    rater_aware_summary` with ``items``); ``mean_ratings`` is the plain mean of the ratings (equal to ``mean``
    when every item has the same number of ratings per group)."""
    by = list(by)
    cols = by + list(SUMMARY_COLUMNS)
    if len(frame) == 0:
        return pd.DataFrame(columns=cols)
    g = frame.groupby(by, sort=True, dropna=False)
    out = g["score"].agg(n_ratings="size", mean="mean", sd="std")
    q = g["score"].quantile([0.25, 0.5, 0.75]).unstack()
    out["q1"], out["median"], out["q3"] = q[0.25], q[0.5], q[0.75]
    out["iqr"] = out["q3"] - out["q1"]
    n = out["n_ratings"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = sst.t.ppf(0.5 + confidence / 2, n - 1) * out["sd"].to_numpy() / np.sqrt(n)
    h = np.where(n >= 2, h, np.nan)
    out["ci_t_low"], out["ci_t_high"] = out["mean"] - h, out["mean"] + h
    out["n_raters"] = g["rater"].nunique()
    if bootstrap:
        ends = [bootstrap_interval(x["score"].to_numpy(), n_resamples=n_resamples, method=method,
                                   seed=_group_seed(seed, key if isinstance(key, tuple) else (key,)),
                                   confidence=confidence) for key, x in g]
        out["ci_boot_low"], out["ci_boot_high"] = [e[0] for e in ends], [e[1] for e in ends]
    else:
        out["ci_boot_low"] = out["ci_boot_high"] = math.nan
    for col in ("kind", "codec", "kbps", "measured_kbps", "category"):
        if col in frame and col not in by:
            if col in ("kbps", "measured_kbps"):
                out[col] = g[col].mean()
            else:
                one = g[col].nunique(dropna=True) == 1
                out[col] = g[col].first().where(one)
    out = out.reset_index()
    out["mean_ratings"] = out["mean"]
    out["ci_bs1534_low"], out["ci_bs1534_high"] = out["ci_t_low"], out["ci_t_high"]
    ra = rater_aware_summary(frame, items=items, confidence=confidence, by=tuple(by))
    ra = ra.rename(columns={"method": "ci_method"})[by + ["n_items", "mean", "ci_low", "ci_high", "half_width",
                                                          "ci_method"]]
    out = out.drop(columns=["mean"]).merge(ra, on=by, how="left", sort=False)
    rest = [c for c in out.columns if c not in cols]
    out = out[cols + rest]
    out.attrs["ci"] = (f"{100 * confidence:g} % CI: {METHODS[items]} (ci_low/ci_high, the default); per-rating "
                       f"Student-t (ci_bs1534_*, = ci_t_*) and {method} bootstrap with {n_resamples} resamples, seed "
                       f"{seed} (ci_boot_*) treat ratings as independent")
    out.attrs["estimand"] = ESTIMAND[items]
    return out


def by_codec_bitrate(frame: pd.DataFrame, *, per_category: bool = False, **kw) -> pd.DataFrame:
    """Summary per (codec, nominal kbps) over codec conditions that have a bitrate (optionally also per category).
    Conditions without one (``C1``) are in the per-condition summary, never dropped from the analysis."""
    codec = frame[(frame["kind"] == "codec") & frame["kbps"].notna()]
    by = (["category"] if per_category else []) + ["codec", "kbps"]
    return summarize(codec, by, **kw)


def rater_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-rater mean score per condition (rows raters, columns conditions)."""
    return frame.pivot_table(index="rater", columns="condition", values="score", aggfunc="mean")


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank on per-rater differences: exact for <= 25 non-zero differences without ties."""
    if d.size == 0:
        return math.nan, math.nan
    if not np.any(d != 0):
        return math.nan, 1.0
    nz = d[d != 0]
    exact = nz.size <= 25 and np.unique(np.abs(nz)).size == nz.size
    w = sst.wilcoxon(d, zero_method="wilcox", method="exact" if exact else "approx")
    return float(w.statistic), float(w.pvalue)


def paired_comparisons(frame: pd.DataFrame, *, alpha: float = 0.05, conditions: list[str] | None = None,
                       baseline: str | None = None, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """All pairs of conditions (or each against ``baseline``) over all items, from the interval's own estimator.

    Columns of :func:`harness.inference.paired_contrasts` (``mean_diff = a - b`` with its CI, ``p``/``p_holm``,
    ``effect_size_dz``, ``significant``) plus, as a distribution-free check, the Wilcoxon signed-rank test on
    per-rater mean differences (``w_stat``, ``w_p``, ``w_p_holm``, ``significant_wilcoxon``). ``t_p``/``t_p_holm``
    are kept as names of ``p``/``p_holm`` (the paired t test when every rater rated every item)."""
    out = paired_contrasts(frame.assign(category="all"), baseline=baseline, conditions=conditions,
                           confidence=confidence, alpha=alpha).drop(columns="category")
    wide = rater_means(frame)
    w = [_wilcoxon((wide[a] - wide[b]).dropna().to_numpy()) for a, b in zip(out["a"], out["b"])]
    out["w_stat"] = [x[0] for x in w]
    out["w_p"] = [x[1] for x in w]
    out["w_p_holm"] = holm(out["w_p"].to_numpy(dtype=float)) if len(out) else []
    out["significant_wilcoxon"] = out["w_p_holm"] < alpha
    out["t_p"], out["t_p_holm"] = out["p"], out["p_holm"]
    out.attrs["method"] = paired_contrasts.__doc__.split("\n")[0]
    return out


def per_item(frame: pd.DataFrame, **kw) -> pd.DataFrame:
    """Per (item, condition) breakdown (t CI only unless ``bootstrap=True``)."""
    kw.setdefault("bootstrap", False)
    return summarize(frame, ("item", "condition"), **kw)


def live_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Fast running results: per condition n, mean, rater-aware 95 % CI (``ci_low``/``ci_high``), the per-rating t
    CI (``ci_t_*``), median (no bootstrap)."""
    cols = ["condition", "kind", "n_ratings", "n_raters", "mean", "ci_low", "ci_high", "ci_t_low", "ci_t_high",
            "median"]
    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=cols)
    out = summarize(frame, ("condition",), bootstrap=False)
    if "kind" not in out:
        out["kind"] = None
    return out[cols].sort_values("mean", ascending=False).reset_index(drop=True)
