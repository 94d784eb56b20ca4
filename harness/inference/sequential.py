"""Stopping on evidence: precision targets and anytime-valid decisions for adaptive studies (pure functions on
the long ratings frame; used by the web test's steering in :mod:`harness.webtest.adaptive` and by the benchmark).

**Precision** (``[rater] precision``): for every codec condition in every category, the half-width of the default
rater-aware 95 % interval that ``mushra analyze`` reports (:func:`harness.inference.rater_aware_summary`, raters
random, items fixed) must be at most the target, in MUSHRA points. "Raters still needed" comes from the variance
components of that category (:func:`harness.inference.raters_needed`, as ``mushra plan`` computes it). A target
counts as met only with at least :data:`MIN_RATERS` raters in the category and 2 on each of its items (an
interval from a handful of raters can be small by chance, and stopping on such luck would cost coverage).

**Decisions** (``[rater] resolve = ["a vs b"]``): per category, each rater contributes the mean over the items they
rated of ``score_a - score_b``. A confidence *sequence* for the mean difference stays valid however often it is
looked at and whenever the study stops: the two-sided normal-mixture boundary of Howard, Ramdas, McAuliffe &
Sekhon (2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Stat. 49(2):1055-1080,
eq. (14); Robbins 1970), with the variance process ``V_t = t * s_t^2`` estimated from the raters so far, which is
the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, McAuliffe & Ramdas (2024, "Time-uniform central
limit theory and asymptotic confidence sequences", Ann. Stat. 52(6), Thm 2.2). A difference is *resolved* when its
sequence excludes 0 ("a better" / "b better") or lies within +-``equivalence_margin`` ("equivalent"); the chance
of any wrong decision for one named difference in one category is at most ``decision_error`` (asymptotically;
the benchmark measures it). No decision is taken before :data:`MIN_DECISION_RATERS` raters.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from harness.inference import InferenceError, raters_needed, rater_aware_summary, variance_components

CONFIDENCE = 0.95  # the analysis' default interval
MIN_DECISION_RATERS = 10  # the asymptotic sequence is not trusted on fewer raters
MIN_RATERS = 10  # a precision target counts as met only with >= 10 raters and >= 2 raters on every item
CS_T_OPT = 40  # raters at which the confidence sequence is tightest (tuning only; validity holds for any value)
STATUS_COLUMNS = ("category", "condition", "n_raters", "mean", "half_width", "target", "met", "raters_needed")
RESOLVE_COLUMNS = ("category", "a", "b", "n_raters", "difference", "cs_low", "cs_high", "decision")


@dataclasses.dataclass(frozen=True)
class Targets:
    """What an adaptive study must reach. ``precision`` in MUSHRA points (None: no precision target);
    ``resolve``: pairs of condition ids; ``equivalence_margin`` in MUSHRA points; ``decision_error`` per pair and
    category."""

    precision: float | None
    resolve: tuple[tuple[str, str], ...] = ()
    equivalence_margin: float | None = None
    decision_error: float = 0.05


def normal_mixture_radius(t: np.ndarray | int, sd: np.ndarray | float, *, alpha: float,
                          t_opt: float = CS_T_OPT) -> np.ndarray:
    """Half-width of the two-sided normal-mixture confidence sequence for a mean after ``t`` observations with
    standard deviation ``sd`` (Howard et al. 2021, eq. (14), variance process ``V = t sd^2``; mixing precision
    tuned for ``t_opt`` observations as in their Sec. 3.5): ``sd * sqrt(2 (t r + 1) / (t^2 r) * log(sqrt(t r + 1) /
    alpha))`` with ``r = (2 log(1/alpha) + log(1 + 2 log(1/alpha))) / t_opt``."""
    t = np.asarray(t, dtype=np.float64)
    la = math.log(1 / alpha)
    r = (2 * la + math.log(1 + 2 * la)) / t_opt
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(sd) * np.sqrt(2 * (t * r + 1) / (t * t * r) * np.log(np.sqrt(t * r + 1) / alpha))


def confidence_sequence(x: np.ndarray, *, alpha: float, t_opt: float = CS_T_OPT) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the anytime-valid sequence after the observations ``x`` (one per rater)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        return (float(x.mean()) if x.size else math.nan, -math.inf, math.inf)
    m, sd = float(x.mean()), float(x.std(ddof=1))
    h = float(normal_mixture_radius(x.size, sd, alpha=alpha, t_opt=t_opt))
    return m, m - h, m + h


def decide(low: float, high: float, *, margin: float | None) -> str:
    """``"a better"`` / ``"b better"`` (the sequence excludes 0), ``"equivalent"`` (inside +-margin) or ``"open"``."""
    if low > 0:
        return "a better"
    if high < 0:
        return "b better"
    if margin is not None and -margin < low and high < margin:
        return "equivalent"
    return "open"


def post_screen(frame: pd.DataFrame, *, preset: str, exclude_flagged: bool = False) -> tuple[pd.DataFrame, int]:
    """The ratings that survive the analysis' post-screening ``preset`` (``bs1534`` / ``encodec``: the one
    implementation, :mod:`harness.inference.screening`), and the number of raters removed. ``exclude_flagged``:
    raters with flags (the study's ``[rater] exclude_flagged``, as ``mushra analyze --study`` applies it) go too."""
    if frame.empty:
        return frame, 0
    from harness.inference import screening  # the same rules `mushra analyze` applies

    table = screening.screen(frame, screening.preset(preset, exclude_flagged=exclude_flagged))
    return screening.kept(frame, table), int(table["excluded"].sum())


def precision_status(frame: pd.DataFrame, *, precision: float, categories: list[str] | None = None,
                     codec_conditions: dict[str, list[str]] | None = None, plan: bool = True) -> pd.DataFrame:
    """Per (category, codec condition): :data:`STATUS_COLUMNS` from the rater-aware interval.

    ``codec_conditions``: category -> the codec conditions its items carry (rows with no ratings yet appear with
    ``n_raters`` 0 and an infinite half-width); default: whatever ``frame`` holds with ``kind == "codec"``.
    ``plan=False`` skips the variance components (``raters_needed`` is then -1 for unmet targets)."""
    f = frame[frame["kind"] == "codec"] if "kind" in frame.columns else frame
    summary = rater_aware_summary(f, confidence=CONFIDENCE) if len(f) else pd.DataFrame(
        columns=["category", "condition", "n_raters", "mean", "half_width"])
    got = {(r.category, r.condition): r for r in summary.itertuples()}
    wanted = codec_conditions or {c: sorted(set(g["condition"])) for c, g in f.groupby("category")}
    rows = []
    for cat in categories or sorted(wanted):
        cat_frame = f[f["category"] == cat]
        needed = _raters_needed(cat_frame, precision) if plan else {}
        per_item = cat_frame.groupby(["condition", "item"])["rater"].nunique().groupby(level=0).min()
        for cond in wanted.get(cat, []):
            r = got.get((cat, cond))
            n = int(r.n_raters) if r is not None else 0
            hw = float(r.half_width) if r is not None and np.isfinite(r.half_width) else math.inf
            if n < MIN_RATERS or per_item.get(cond, 0) < 2:
                met_ok = False  # too little data to trust a small interval
            else:
                met_ok = True
            rows.append({"category": cat, "condition": cond, "n_raters": n,
                         "mean": float(r.mean) if r is not None else math.nan, "half_width": hw,
                         "target": precision, "met": met_ok and hw <= precision,
                         "raters_needed": 0 if met_ok and hw <= precision
                         else _at_least_one(max(needed.get(cond, -1), MIN_RATERS - n))})
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def _at_least_one(n: int) -> int:
    return n if n < 0 else max(1, n)  # unmet: at least one more rater, whatever the plan's rounding says


def _raters_needed(cat_frame: pd.DataFrame, precision: float) -> dict[str, int]:
    """condition -> further raters (of this category) until the expected half-width reaches ``precision``,
    from the category's variance components; -1 when they cannot be estimated yet (fewer than 2 raters)."""
    if cat_frame["rater"].nunique() < 2:
        return {}
    try:
        comp = variance_components(cat_frame)
    except InferenceError:
        return {}
    per_rater = float(cat_frame.groupby(["rater", "condition"])["item"].nunique().mean())
    n_items = max(1, int(round(per_rater)))
    total = raters_needed(comp, half_width=precision, confidence=CONFIDENCE, n_items=n_items)
    have = cat_frame.groupby("condition")["rater"].nunique()
    return {c: (max(0, total - int(n)) if total >= 0 else -1) for c, n in have.items()}


def rater_differences(frame: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per (category, rater): mean over the rater's items of ``score_a - score_b``, in the order raters' last
    ratings were submitted (``submitted_at`` when present, else first appearance)."""
    f = frame[frame["condition"].isin((a, b))]
    cells = f.pivot_table(index=["category", "rater", "item"], columns="condition", values="score",
                          aggfunc="mean")
    if a not in cells or b not in cells:
        return pd.DataFrame(columns=["category", "rater", "d"])
    d = (cells[a] - cells[b]).dropna().groupby(level=["category", "rater"]).mean().rename("d").reset_index()
    if "submitted_at" in frame.columns and len(d):
        last = frame.groupby("rater")["submitted_at"].max()
        d = d.assign(_t=d["rater"].map(last)).sort_values("_t", kind="stable").drop(columns="_t")
    return d.reset_index(drop=True)


def resolve_status(frame: pd.DataFrame, pairs: tuple[tuple[str, str], ...], *, margin: float | None,
                   alpha: float, categories: list[str] | None = None) -> pd.DataFrame:
    """Per (category, pair): :data:`RESOLVE_COLUMNS` with the anytime-valid sequence at level ``1 - alpha``."""
    rows = []
    for a, b in pairs:
        d = rater_differences(frame, a, b)
        for cat in categories or sorted(set(d["category"])):
            x = d.loc[d["category"] == cat, "d"].to_numpy()
            m, lo, hi = confidence_sequence(x, alpha=alpha)
            decision = decide(lo, hi, margin=margin) if x.size >= MIN_DECISION_RATERS else "open"
            rows.append({"category": cat, "a": a, "b": b, "n_raters": int(x.size), "difference": m,
                         "cs_low": lo, "cs_high": hi, "decision": decision})
    return pd.DataFrame(rows, columns=list(RESOLVE_COLUMNS))
