"""Paired comparisons between conditions from the same estimator as the intervals (raters random, items fixed).

For conditions ``a`` and ``b`` (within one category) the difference ``theta_a - theta_b`` of the item-balanced means
has per-rater linearised contributions ``z_ra - z_rb``; its variance is ``sum_r (z_ra - z_rb)^2`` and the
test is a Student t on ``R - 1`` df. With every rater rating every item in both conditions this is exactly the
paired t test on per-rater mean differences. Effect size: Cohen's ``d_z`` = mean difference / SD of the per-rater
differences (Cohen 1988; Lakens 2013). p-values are Holm (1979) step-down adjusted across the comparisons made.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.inference.summary import InferenceError, rater_contributions

CONTRAST_COLUMNS = ("category", "a", "b", "n_raters", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "se",
                    "df", "t_stat", "p", "p_holm", "effect_size_dz", "significant")


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (same order as the input; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def format_p(p: float, *, floor: float = 1e-4) -> str:
    """A p-value for print: ``< 1e-4`` below ``floor``, never ``0.0000``; ``-`` when undefined."""
    if p is None or not math.isfinite(p):
        return "-"
    if p < floor:
        return f"< {floor:.0e}".replace("e-0", "e-")
    return f"{p:.4f}" if p < 0.9999 else "1.0000"


def _pairs(conds: list[str], baseline: str | None) -> list[tuple[str, str]]:
    if baseline is None:
        return list(itertools.combinations(conds, 2))
    if baseline not in conds:
        raise InferenceError(f"baseline condition {baseline!r} is not among the rated conditions "
                             f"({', '.join(conds)})")
    return [(c, baseline) for c in conds if c != baseline]


def paired_contrasts(frame: pd.DataFrame, *, baseline: str | None = None, conditions: list[str] | None = None,
                     confidence: float = 0.95, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of conditions (or each against ``baseline``) per category: difference ``a - b`` in MUSHRA points
    with its ``confidence`` interval, t test, Holm-adjusted p (across all rows returned) and ``d_z``."""
    f = frame if "category" in frame.columns else frame.assign(category="all")
    if conditions is not None:
        f = f[f["condition"].isin(conditions)]
    z = rater_contributions(f, by=("category", "condition"))
    rows = []
    for cat, g in z.groupby("category", sort=True):
        zw = g.pivot_table(index="rater", columns="condition", values="z", aggfunc="sum")
        est = g.groupby("condition")["est"].sum()
        conds = [c for c in (conditions or sorted(est.index)) if c in est.index]
        for a, b in _pairs(conds, baseline):
            both = zw[[a, b]].dropna(how="all").fillna(0.0)
            d = (both[a] - both[b]).to_numpy()
            r = d.size
            diff = float(est[a] - est[b])
            row = {"category": cat, "a": a, "b": b, "n_raters": r, "mean_a": float(est[a]),
                   "mean_b": float(est[b]), "mean_diff": diff}
            if r >= 2:
                se = math.sqrt(float(np.sum(d ** 2)))  # z carries the small-sample factor (see summary.py)
                q = sst.t.ppf(0.5 + confidence / 2, r - 1)
                t = diff / se if se > 0 else (math.copysign(math.inf, diff) if diff else 0.0)
                p = float(2 * sst.t.sf(abs(t), r - 1)) if se > 0 else (0.0 if diff else 1.0)
                row.update(ci_low=diff - q * se, ci_high=diff + q * se, se=se, df=float(r - 1), t_stat=t, p=p,
                           effect_size_dz=diff / (se * math.sqrt(r)) if se > 0 else math.nan)
            rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=list(CONTRAST_COLUMNS))
    out["p_holm"] = holm(out["p"].to_numpy(dtype=float)) if len(out) else []
    out["significant"] = out["p_holm"] < alpha
    out.attrs["method"] = ("difference of item-balanced means, rater-cluster t (raters random, items fixed), "
                           f"{100 * confidence:g} % CI, Holm-adjusted p across {len(out)} comparisons, "
                           "effect size Cohen's d_z")
    return out
