"""Rater-aware inference for MUSHRA ratings (pure numpy/scipy/pandas; imported by the analysis and the web test).

MUSHRA ratings are clustered: every rater has a personal offset and a personal slope across conditions, so
ratings of one rater are not independent and an interval over individual ratings is far too narrow (about 65 %
actual coverage for a nominal 95 % with 20 raters x 8 items; see ``benchmarks/bench_coverage.py``).

**Estimand** (``items="fixed"``, the default): for each condition, the mean score a new population of raters would
give *these* items, every item weighted equally. Raters are random, the study's items fixed.

**Estimator**: ``theta = (1/I) sum_i m_i`` with ``m_i`` the mean over raters of item ``i`` (after averaging a
rater's repeated ratings of one stimulus). Its variance is estimated from each rater's linearised contribution ``z_r
= sum_{i rated by r} (y_ri - m_i) sqrt(n_i/(n_i-1)) / (I n_i)`` as ``V = sum_r z_r^2`` (a rater-cluster robust
variance, Liang & Zeger 1986, with the per-item small-sample factor of HC2 / Bell & McCaffrey 2002) with a Student-t
quantile on ``R - 1`` degrees of freedom. When every rater rated every item this *is* the t interval over per-rater
means (ITU-R BS.1534-3 sec. 9.2 applied to the rater, the independent unit).

``items="random"`` generalises over items as well (mean over a population of raters *and* items): two-way
(raters x items) cluster-robust variance ``V = V_R + V_I - V_RI`` (Cameron, Gelbach & Miller 2011), which for a
complete design equals the crossed random-effects ANOVA estimate ``(MS_R + MS_I - MS_E) / (R I)``, with
Satterthwaite (1946) degrees of freedom.

Planning (:func:`variance_components`, :func:`raters_needed`, :func:`power_difference`, :func:`raters_for_power`)
uses the same model: ``score = mu_c + rater_r + (rater x condition)_rc + item_i + (item x condition)_ic + e``.
Everything here is vectorised group-by arithmetic: 1,000,000 ratings take well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.errors import HarnessError  # a plain exception module: no analysis / web-test import

METHODS = {"fixed": "rater-cluster t (raters random, items fixed)",
           "random": "two-way cluster t (raters and items random, Satterthwaite df)"}
SUMMARY_COLUMNS = ("category", "condition", "n_raters", "n_items", "n_ratings", "mean", "se", "df", "ci_low",
                   "ci_high", "half_width", "method")


class InferenceError(HarnessError, ValueError):
    """Ratings that cannot be summarised (missing columns, bad options)."""


def _check(frame: pd.DataFrame, items: str, confidence: float) -> None:
    missing = [c for c in ("rater", "item", "condition", "score") if c not in frame.columns]
    if missing:
        raise InferenceError(f"ratings lack column(s) {', '.join(missing)}; need rater, item, condition, score")
    if items not in METHODS:
        raise InferenceError(f"items must be 'fixed' or 'random', got {items!r}")
    if not 0 < confidence < 1:
        raise InferenceError(f"confidence must lie between 0 and 1, got {confidence!r}")


def _cells(frame: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """One row per (group..., item, rater): mean score ``y`` and rating count ``k``; plus per-item ``m``, ``n``."""
    keys = list(dict.fromkeys(groups + ["item", "rater"]))
    codes = {k: pd.factorize(frame[k], sort=False, use_na_sentinel=False) for k in keys}
    df = pd.DataFrame({k: c for k, (c, _) in codes.items()})
    df["score"] = frame["score"].to_numpy(dtype=np.float64)
    cells = df.groupby(keys, sort=False)["score"].agg(["mean", "size"]).reset_index()
    cells = cells.rename(columns={"mean": "y", "size": "k"})
    gi = list(dict.fromkeys(groups + ["item"]))
    cells["m"] = cells.groupby(gi, sort=False)["y"].transform("mean")
    cells["n"] = cells.groupby(gi, sort=False)["y"].transform("size")
    cells["I"] = cells.groupby(groups, sort=False)["item"].transform("nunique")
    cells["w"] = 1.0 / (cells["I"] * cells["n"])
    cells.attrs["labels"] = {k: u for k, (_, u) in codes.items()}
    return cells


def _linearised(cells: pd.DataFrame, groups: list[str], items: str) -> pd.DataFrame:
    """Per group: estimate, variance, df, counts (the core of :func:`rater_aware_summary`)."""
    c = cells
    # small-sample correction per item (HC2-like): E[(y - m_i)^2] = (1 - 1/n_i) sigma^2; with every rater rating
    # every item (n_i = R) this is the usual R/(R-1) of the t interval over per-rater means
    c["wr"] = c["w"] * (c["y"] - c["m"]) * np.sqrt(c["n"] / (c["n"] - 1).where(c["n"] > 1, 1))
    g = c.groupby(groups, sort=False)
    out = pd.DataFrame({"mean": (c["w"] * c["y"]).groupby([c[k] for k in groups]).sum()})
    zr = c.groupby(groups + ["rater"], sort=False)["wr"].sum()
    R = zr.groupby(level=list(range(len(groups)))).size()
    sz = (zr ** 2).groupby(level=list(range(len(groups)))).sum()
    out["n_raters"] = R
    out["n_items"] = g["item"].nunique()
    out["n_ratings"] = g["k"].sum()
    # an item rated by a single rater shows no spread, so the variance would come out too small: no interval then
    vr = sz.where((R > 1) & (g["n"].min() >= 2))
    if items == "fixed":
        out["var"], out["df"] = vr, (R - 1).astype(float)
        return out
    im = c.drop_duplicates(list(dict.fromkeys(groups + ["item"])))
    I = out["n_items"]
    mean = out["mean"]
    ui = (im.set_index(groups)["m"] - mean.reindex(im.set_index(groups).index).to_numpy())
    vi = (ui ** 2).groupby(level=list(range(len(groups)))).sum() / (I * (I - 1)).where(I > 1)
    # double-centred cell residual for the rater x item term
    d_r = (c["y"] - c["m"]).groupby([c[k] for k in groups] + [c["rater"]]).transform("mean")
    e = c["y"] - c["m"] - d_r
    scale = (R * I / ((R - 1) * (I - 1))).where((R > 1) & (I > 1))
    vri = ((c["w"] * e) ** 2).groupby([c[k] for k in groups]).sum() * scale
    v = (vr + vi - vri)
    v = np.maximum(v, np.maximum(vr, vi))
    den = vr ** 2 / (R - 1) + vi ** 2 / (I - 1) + vri ** 2 / ((R - 1) * (I - 1))
    out["var"], out["df"] = v, (v ** 2 / den).clip(lower=1.0)
    return out


def rater_aware_summary(frame: pd.DataFrame, *, items: str = "fixed", confidence: float = 0.95, seed: int = 0,
                        by: tuple[str, ...] = ("category", "condition")) -> pd.DataFrame:
    """Per (category, condition): rater-aware mean and ``confidence`` interval (see module docstring).

    ``frame`` needs ``rater, item, condition, score`` (+ optional ``category``; absent = one category ``all``).
    ``by`` changes the groups (e.g. ``("category", "codec", "kbps")``; a missing ``category`` column means one
    category ``all``). Returns :data:`SUMMARY_COLUMNS` (with ``by`` in front): ``mean`` is the estimate of the
    estimand (equals the mean of all ratings when every item has the same number of ratings), ``se`` its standard
    error, ``half_width = t_{df} * se``. An interval needs at least 2 raters (``items="random"``: also 2 items)
    and every item of the group rated by at least 2 raters (one rating of an item says nothing about its spread),
    otherwise it is NaN. ``seed`` is accepted for interface stability (the method is deterministic).
    """
    _check(frame, items, confidence)
    f = frame if "category" in frame.columns else frame.assign(category="all")
    groups = list(by)
    cols = groups + [c for c in SUMMARY_COLUMNS if c not in ("category", "condition")]
    if len(f) == 0:
        return pd.DataFrame(columns=cols)
    cells = _cells(f, groups)
    res = _linearised(cells, groups, items).reset_index()
    labels = cells.attrs["labels"]
    for k in groups:
        res[k] = labels[k][res[k].to_numpy()]
    res["se"] = np.sqrt(res["var"].astype(float))
    q = sst.t.ppf(0.5 + confidence / 2, res["df"].astype(float))
    res["half_width"] = q * res["se"]
    res["ci_low"] = res["mean"] - res["half_width"]
    res["ci_high"] = res["mean"] + res["half_width"]
    res["method"] = METHODS[items]
    res = res.sort_values(groups, kind="stable").reset_index(drop=True)
    res.attrs.update(estimand=ESTIMAND[items], confidence=confidence, items=items)
    return res[cols]


ESTIMAND = {"fixed": "mean score a new population of raters would give these items (raters random, items fixed)",
            "random": "mean score a new population of raters would give a new population of items (both random)"}


def rater_contributions(frame: pd.DataFrame, *, by: tuple[str, ...] = ("category", "condition")) -> pd.DataFrame:
    """Per (group..., rater): linearised contribution ``z`` to the group's estimate, for paired contrasts.

    The estimate of a contrast ``sum_c a_c theta_c`` has contributions ``sum_c a_c z_rc`` per rater; its
    rater-cluster variance is ``sum_r (sum_c a_c z_rc)^2`` (``z`` carries the per-item small-sample factor
    ``sqrt(n_i/(n_i-1))``, which is the familiar ``R/(R-1)`` when every rater rated every item).
    """
    groups = list(by)
    f = frame if all(k in frame.columns for k in groups) else frame.assign(category="all")
    cells = _cells(f, groups)
    small = np.sqrt(cells["n"] / (cells["n"] - 1).where(cells["n"] > 1, 1))
    cells["z"] = cells["w"] * (cells["y"] - cells["m"]) * small
    cells["est"] = cells["w"] * cells["y"]
    out = cells.groupby(groups + ["rater"], sort=False)[["z", "est"]].sum().reset_index()
    labels = cells.attrs["labels"]
    for k in groups + ["rater"]:
        out[k] = labels[k][out[k].to_numpy()]
    return out
