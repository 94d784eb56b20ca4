"""``mushra plan``: how many raters (and items) a MUSHRA study needs, from pilot ratings or stated variance
components (model and formulas: :mod:`harness.inference.plan`), and a simulation that checks the answer.

Two questions: (1) raters needed so the expected 95 % interval half-width of a condition mean is at most ``h``
MUSHRA points (raters random, items fixed: expected t half-width ``t_{R-1} c4(R) sd_r / sqrt(R)``, ``sd_r`` the SD of
one rater's mean over the items); (2) raters needed for ``power`` to detect a true difference ``delta`` between two
conditions with the two-sided paired t test at ``alpha`` (noncentral t; Cohen 1988). With ``comparisons = K``
the test level is Bonferroni's ``alpha / K``, a safe bound for Holm's procedure.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.errors import HarnessError
from harness.inference import (VarianceComponents, expected_half_width, power_difference, rater_aware_summary,
                               raters_for_power, raters_needed, variance_components)

COMPONENT_KEYS = ("rater", "rater_condition", "item", "item_condition", "residual")


class PlanError(HarnessError):
    """Bad planning input."""


def parse_components(text: str) -> VarianceComponents:
    """``"rater=8,rater_condition=6,item=6,residual=10"`` (SDs in MUSHRA points; unnamed ones default to 0)."""
    vals: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, val = part.partition("=")
        key = key.strip().replace("-", "_")
        try:
            v = float(val)
        except ValueError:
            v = math.nan
        if not sep or key not in COMPONENT_KEYS or not math.isfinite(v) or v < 0:
            raise PlanError(f"--components '{part}': use KEY=SD with KEY one of {', '.join(COMPONENT_KEYS)} and a "
                            "non-negative SD in MUSHRA points, e.g. rater=8,rater_condition=6,item=6,residual=10")
        vals[key] = v
    if "residual" not in vals:
        raise PlanError("--components needs at least residual=SD (the rating-to-rating noise)")
    return VarianceComponents(**{k: vals.get(k, 0.0) for k in COMPONENT_KEYS})


@dataclasses.dataclass(frozen=True)
class PlanRow:
    n_items: int
    raters_for_half_width: int
    half_width_at_answer: float
    raters_for_power: int
    power_at_answer: float


def plan(components: VarianceComponents, *, half_width: float, difference: float, n_items: list[int],
         power: float = 0.8, alpha: float = 0.05, comparisons: int = 1, confidence: float = 0.95) -> list[PlanRow]:
    """Raters needed for each item count in ``n_items`` (-1: not reachable)."""
    if comparisons < 1:
        raise PlanError("--comparisons must be at least 1")
    level = alpha / comparisons
    rows = []
    for n in n_items:
        r_h = raters_needed(components, half_width=half_width, confidence=confidence, n_items=n)
        r_p = raters_for_power(components, difference=difference, n_items=n, power=power, alpha=level)
        rows.append(PlanRow(n, r_h, expected_half_width(components, n_raters=r_h, n_items=n, confidence=confidence)
                            if r_h > 0 else math.nan,
                            r_p, power_difference(components, difference=difference, n_raters=r_p, n_items=n,
                                                  alpha=level) if r_p > 0 else math.nan))
    return rows


def simulate(components: VarianceComponents, *, n_raters: int, n_items: int, difference: float,
             alpha: float = 0.05, confidence: float = 0.95, n_studies: int = 1000, seed: int = 0
             ) -> dict[str, float]:
    """Simulate ``n_studies`` studies under the components (two conditions ``difference`` apart, far from the
    0/100 limits, no clipping) and return the mean interval half-width and the empirical power of the paired test
    (with Monte-Carlo SEs). Items are fixed, so item-by-condition effects would only move the true difference
    of these items away from ``difference``: they are left out here (they do not enter either formula)."""
    from harness.analysis.synthetic import clustered_study

    c = components
    ratings, _ = clustered_study(n_raters=n_raters, n_items=n_items, condition_means=(1000.0, 1000.0 + difference),
                                 sd_rater=c.rater, sd_rater_condition=c.rater_condition, sd_item=c.item,
                                 sd_item_condition=0.0, sd_residual=c.residual, n_studies=n_studies,
                                 seed=seed, clip=False)
    s = rater_aware_summary(ratings, confidence=confidence)
    hw = s.loc[s["condition"] == "c0", "half_width"].to_numpy()
    pm = ratings.groupby(["category", "rater", "condition"])["score"].mean().unstack("condition")
    d = (pm["c1"] - pm["c0"]).groupby(level=0)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(d.size()))
    p = 2 * sst.t.sf(np.abs(t.to_numpy()), n_raters - 1)
    pw = float(np.mean(p < alpha))
    return {"mean_half_width": float(hw.mean()), "half_width_mc_se": float(hw.std(ddof=1) / math.sqrt(hw.size)),
            "power": pw, "power_mc_se": math.sqrt(pw * (1 - pw) / n_studies)}


def components_from_ratings(source: Any, *, study_dir: str | None = None) -> tuple[VarianceComponents, pd.DataFrame]:
    """Variance components of pilot ratings (our DB, our CSV, a webMUSHRA CSV or a DataFrame)."""
    from harness.analysis.load import load_ratings

    frame = load_ratings(source, study_dir=study_dir)
    return variance_components(frame), frame


def text_report(components: VarianceComponents, rows: list[PlanRow], *, half_width: float, difference: float,
                power: float, alpha: float, comparisons: int, source: str) -> str:
    c = components
    lines = [f"variance components ({source}; SDs in MUSHRA points):",
             f"  rater offset {c.rater:.2f}, rater x condition {c.rater_condition:.2f}, item {c.item:.2f}, "
             f"item x condition {c.item_condition:.2f}, residual {c.residual:.2f}"
             + (f"  [from {c.n_raters} raters x {c.n_items} items]" if c.n_raters else ""),
             f"estimand: mean score a new population of raters would give these items (raters random, items fixed)",
             "", f"{'items':>5s}  {'raters for +-' + format(half_width, 'g') + ' (95 % CI)':>26s}  "
             f"{'raters for ' + format(100 * power, 'g') + ' % power, diff ' + format(difference, 'g'):>32s}"]
    for r in rows:
        a = "not reachable" if r.raters_for_half_width < 0 else \
            f"{r.raters_for_half_width} (+-{r.half_width_at_answer:.2f})"
        b = "not reachable" if r.raters_for_power < 0 else f"{r.raters_for_power} (power {r.power_at_answer:.3f})"
        lines.append(f"{r.n_items:5d}  {a:>26s}  {b:>32s}")
    lvl = f"alpha {alpha:g}" + (f" / {comparisons} comparisons (Bonferroni bound for Holm)" if comparisons > 1 else "")
    lines += ["", f"every rater rates every item in both conditions; paired two-sided t test at {lvl}.",
              "Half-widths are expected values (E[s] = c4 sigma); ratings near 0 or 100 have smaller spread, "
              "so these counts are conservative there."]
    return "\n".join(lines)
