"""Study planning from variance components: how many raters (and items) for a target interval half-width or for
80 % power to detect a difference. Model: ``score = mu_c + rater_r + (rater x condition)_rc + item_i +
(item x condition)_ic + e`` (``e`` includes rater x item x condition), every rater rating every item."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.inference.summary import InferenceError, _check

@dataclasses.dataclass(frozen=True)
class VarianceComponents:
    """Standard deviations (MUSHRA points) of the model ``score = mu_c + rater + rater x condition + item +
    item x condition + residual``; ``residual`` includes the rater x item x condition interaction. Estimated from
    codec conditions (the hidden reference sits at the ceiling). ``n_raters``/``n_items``: the data they came from
    (0 when stated)."""
    rater: float
    rater_condition: float
    item: float
    residual: float
    item_condition: float = 0.0
    n_raters: int = 0
    n_items: int = 0

    def per_rater_sd(self, n_items: int) -> float:
        """SD of one rater's mean over ``n_items`` items for one condition (items fixed)."""
        return math.sqrt(self.rater ** 2 + self.rater_condition ** 2 + self.residual ** 2 / n_items)

    def difference_sd(self, n_items: int) -> float:
        """SD of one rater's mean difference between two conditions over ``n_items`` items (offsets cancel)."""
        return math.sqrt(2 * self.rater_condition ** 2 + 2 * self.residual ** 2 / n_items)


def _additive(table: pd.DataFrame) -> tuple[float, float, float]:
    """Two-way ANOVA (rows random) on a table that may have holes: (MS_rows, MS_residual, mean obs per row)."""
    x = table.to_numpy(dtype=np.float64)
    ok = ~np.isnan(x)
    n_r, n_c = x.shape
    if n_r < 2 or n_c < 1:
        return math.nan, math.nan, math.nan
    g = np.nanmean(x)
    a = np.zeros(n_r)
    b = np.zeros(n_c)
    for _ in range(4 if ok.all() else 20):  # alternating fit of x ~ g + a_r + b_c (one pass if complete)
        a = np.nanmean(np.where(ok, x - g - b[None, :], np.nan), axis=1)
        b = np.nanmean(np.where(ok, x - g - a[:, None], np.nan), axis=0)
        b = np.nan_to_num(b)
    resid = np.where(ok, x - g - a[:, None] - b[None, :], 0.0)
    df_e = ok.sum() - n_r - n_c + 1
    per_row = ok.sum() / n_r
    ms_r = per_row * np.sum((a - a.mean()) ** 2) / (n_r - 1)
    ms_e = float(np.sum(resid ** 2) / df_e) if df_e > 0 else math.nan
    return float(ms_r), ms_e, float(per_row)


def variance_components(frame: pd.DataFrame) -> VarianceComponents:
    """Moment (ANOVA) estimates of the variance components from ratings (exact for complete designs).

    Uses the codec conditions when a ``kind`` column marks them (else every condition except ``reference``).
    Negative moment estimates are set to 0. Cheap (group-by arithmetic): fit for a live study view.
    """
    _check(frame, "fixed", 0.95)
    f = frame
    if "kind" in f.columns and (f["kind"] == "codec").any():
        f = f[f["kind"] == "codec"]
    else:
        f = f[f["condition"].astype(str) != "reference"]
    if f["rater"].nunique() < 2 or f["item"].nunique() < 1:
        raise InferenceError("variance components need ratings from at least 2 raters")
    cells = f.groupby(["condition", "rater", "item"], sort=False)["score"].mean()
    y = cells.reset_index()
    rc = y.groupby(["condition", "rater"])["score"].transform("mean")
    ic = y.groupby(["condition", "item"])["score"].transform("mean")
    cm = y.groupby("condition")["score"].transform("mean")
    e = y["score"] - rc - ic + cm
    n_rc = y.groupby("condition")["rater"].nunique()
    n_ic = y.groupby("condition")["item"].nunique()
    df_e = float((y.groupby("condition").size() - n_rc - n_ic + 1).clip(lower=0).sum())
    var_e = float((e ** 2).sum() / df_e) if df_e > 0 else 0.0
    n_items = y.groupby(["condition", "rater"]).size().mean()
    n_raters = y.groupby(["condition", "item"]).size().mean()
    ms_r, ms_rc, n_c = _additive(y.groupby(["rater", "condition"])["score"].mean().unstack())
    var_rc = max(0.0, ms_rc - var_e / n_items) if math.isfinite(ms_rc) else 0.0
    var_r = max(0.0, (ms_r - ms_rc) / n_c) if math.isfinite(ms_r) and math.isfinite(ms_rc) else 0.0
    var_i, var_ic = 0.0, 0.0
    if y["item"].nunique() >= 2:
        ms_i, ms_ic, n_c2 = _additive(y.groupby(["item", "condition"])["score"].mean().unstack())
        var_ic = max(0.0, ms_ic - var_e / n_raters) if math.isfinite(ms_ic) else 0.0
        var_i = max(0.0, (ms_i - ms_ic) / n_c2) if math.isfinite(ms_i) and math.isfinite(ms_ic) else 0.0
    return VarianceComponents(rater=math.sqrt(var_r), rater_condition=math.sqrt(var_rc), item=math.sqrt(var_i),
                              residual=math.sqrt(var_e), item_condition=math.sqrt(var_ic),
                              n_raters=int(f["rater"].nunique()), n_items=int(f["item"].nunique()))


def _c4(n: int) -> float:
    """E[s]/sigma for a normal sample of size n (so the expected t half-width is t * c4 * sigma / sqrt(n))."""
    return math.exp(0.5 * math.log(2 / (n - 1)) + math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def expected_half_width(components: VarianceComponents, *, n_raters: int, n_items: int,
                        confidence: float = 0.95, items: str = "fixed") -> float:
    """Expected half-width (MUSHRA points) of one condition's interval with every rater rating every item."""
    if n_raters < 2 or n_items < 1:
        return math.inf
    c = components
    if items == "fixed":
        sd = c.per_rater_sd(n_items)
        return float(sst.t.ppf(0.5 + confidence / 2, n_raters - 1) * _c4(n_raters) * sd / math.sqrt(n_raters))
    if n_items < 2:
        return math.inf
    vr = (c.rater ** 2 + c.rater_condition ** 2 + c.residual ** 2 / n_items) / n_raters
    vi = (c.item ** 2 + c.item_condition ** 2 + c.residual ** 2 / n_raters) / n_items
    ve = c.residual ** 2 / (n_raters * n_items)
    v = vr + vi - ve
    df = v ** 2 / (vr ** 2 / (n_raters - 1) + vi ** 2 / (n_items - 1) + ve ** 2 / ((n_raters - 1) * (n_items - 1)))
    return float(sst.t.ppf(0.5 + confidence / 2, max(df, 1.0)) * math.sqrt(v))


def raters_needed(components: VarianceComponents, *, half_width: float, confidence: float = 0.95,
                  n_items: int, items: str = "fixed", max_raters: int = 100_000) -> int:
    """Fewest raters (each rating all ``n_items``) whose expected interval half-width is <= ``half_width``.

    Returns ``-1`` when no number of raters reaches it (``items="random"``: the item variance alone is too big;
    add items)."""
    if half_width <= 0:
        raise InferenceError(f"half_width must be positive (MUSHRA points), got {half_width}")
    lo, hi = 2, 2
    while expected_half_width(components, n_raters=hi, n_items=n_items, confidence=confidence,
                              items=items) > half_width:
        if hi >= max_raters:
            return -1
        lo, hi = hi, min(hi * 2, max_raters)
    while lo < hi:  # smallest n with half-width <= target (monotone in n)
        mid = (lo + hi) // 2
        ok = expected_half_width(components, n_raters=mid, n_items=n_items, confidence=confidence,
                                 items=items) <= half_width
        lo, hi = (lo, mid) if ok else (mid + 1, hi)
    return hi


def power_difference(components: VarianceComponents, *, difference: float, n_raters: int, n_items: int,
                     alpha: float = 0.05) -> float:
    """Power of the two-sided paired t test (per-rater mean differences, items fixed) to detect ``difference``
    MUSHRA points between two conditions; noncentral t (Cohen 1988, ch. 2)."""
    if n_raters < 2:
        return 0.0
    sd = components.difference_sd(n_items)
    if sd == 0:
        return 1.0 if difference else alpha
    df = n_raters - 1
    nc = abs(difference) / (sd / math.sqrt(n_raters))
    q = sst.t.ppf(1 - alpha / 2, df)
    return float(sst.nct.sf(q, df, nc) + sst.nct.cdf(-q, df, nc))


def raters_for_power(components: VarianceComponents, *, difference: float, n_items: int, power: float = 0.8,
                     alpha: float = 0.05, max_raters: int = 100_000) -> int:
    """Fewest raters for ``power`` to detect ``difference`` (two-sided paired t at ``alpha``); -1 if none."""
    if not 0 < power < 1 or difference == 0:
        raise InferenceError("power must lie in (0, 1) and difference must be non-zero")
    n = 2
    while power_difference(components, difference=difference, n_raters=n, n_items=n_items, alpha=alpha) < power:
        n = n + 1 if n < 64 else int(n * 1.05) + 1
        if n > max_raters:
            return -1
    if n > 64:  # refine the coarse step down to the exact smallest n
        while n > 2 and power_difference(components, difference=difference, n_raters=n - 1, n_items=n_items,
                                         alpha=alpha) >= power:
            n -= 1
    return n
