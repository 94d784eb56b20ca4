"""Ordering and wording shared by the figures, tables and the HTML report (no plotting, no statistics).

- :func:`natural_key`: numeric ordering of names (``opus_6`` before ``opus_12``, ``C2`` before ``C10``).
- :func:`condition_order`: hidden reference first, then codec conditions by codec name and bitrate, then named
  conditions without a bitrate, then anchors (7 kHz before 3.5 kHz).
- :func:`bitrate_text`: measured kbps with the nominal value in brackets when they differ.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from harness.vocabulary import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR, kind_of

REFERENCE_NAMES = {HIDDEN_REFERENCE: "hidden reference", LOW_ANCHOR: "anchor 3.5 kHz LP",
                   MID_ANCHOR: "anchor 7 kHz LP"}
_ANCHOR_RANK = {MID_ANCHOR: 0, LOW_ANCHOR: 1}


def natural_key(value) -> tuple:
    """Sort key splitting digit runs into numbers: ``opus_6 < opus_12``, ``C2 < C10``, ``3.2 < 12``."""
    parts = re.split(r"(\d+(?:\.\d+)?)", str(value))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p.lower()) for i, p in enumerate(parts) if p != "")


def category_order(categories) -> list:
    """Categories in natural order with the pooled ``all`` last."""
    return sorted(set(categories), key=lambda c: (str(c) == "all", natural_key(c)))


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def condition_rank(condition: str, kind: str | None, codec, kbps) -> tuple:
    kind = kind if isinstance(kind, str) else str(kind_of(condition).value)
    k = _num(kbps)
    if kind == "reference":
        return (0,)
    if kind == "anchor":
        return (3, _ANCHOR_RANK.get(condition, 9), natural_key(condition))
    if math.isfinite(k) and codec is not None and not (isinstance(codec, float) and math.isnan(codec)):
        return (1, natural_key(codec), k)
    return (2, natural_key(condition))


def sort_conditions(frame: pd.DataFrame, *, by_category: bool = True) -> pd.DataFrame:
    """Rows ordered by category (natural, ``all`` last) then :func:`condition_rank`."""
    if frame.empty:
        return frame
    cats = category_order(frame["category"]) if "category" in frame else []
    cat_rank = {c: i for i, c in enumerate(cats)}
    keys = [((cat_rank.get(r.get("category"), 0) if by_category else 0),
             condition_rank(str(r.get("condition", "")), r.get("kind"), r.get("codec"), r.get("kbps")))
            for r in frame.to_dict("records")]
    order = sorted(range(len(frame)), key=lambda i: keys[i])
    return frame.iloc[order].reset_index(drop=True)


def label(condition: str, codec=None, kbps=None) -> str:
    """Display name: ``hidden reference``, ``anchor 3.5 kHz LP``, ``opus 12 kbps`` or the condition id."""
    if condition in REFERENCE_NAMES:
        return REFERENCE_NAMES[condition]
    k = _num(kbps)
    if codec is not None and isinstance(codec, str) and math.isfinite(k):
        return f"{codec} {k:g} kbps"
    return str(condition)


def round_kbps(v: float) -> str:
    """Bitrate to 3 significant figures (at least one decimal below 10 kbps)."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.2f}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def bitrate_text(measured, nominal) -> str:
    """``11.8 (12)``: measured kbps, nominal in brackets when it differs after rounding; nominal alone marked."""
    m, n = _num(measured), _num(nominal)
    if math.isfinite(m):
        text = round_kbps(m)
        if math.isfinite(n) and text != round_kbps(n) and f"{n:g}" != text:
            text += f" ({n:g})"
        return text
    if math.isfinite(n):
        return f"({n:g}) nominal"
    return "–"


def interval_text(mean, low, high, digits: int) -> tuple[str, str]:
    """(``mean``, ``[low, high]``) rounded to ``digits``; an interval that cannot be computed reads ``n/a``."""
    m, lo, hi = _num(mean), _num(low), _num(high)
    ms = f"{m:.{digits}f}" if math.isfinite(m) else "–"
    ci = f"[{lo:.{digits}f}, {hi:.{digits}f}]" if math.isfinite(lo) and math.isfinite(hi) else "n/a"
    return ms, ci
