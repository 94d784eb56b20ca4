"""Are two evaluation results comparable? (``mushra regress`` compares like with like.)

A metric's number depends on its settings (ViSQOL mode and mapper, sample rate, alignment, resampler) and on the
implementation's version: a mapper switch moves ViSQOL by tenths of a point and is not an "improvement". This
module lists every difference between the baseline and the current run for the cells they share:

- ``metric`` scope: a cell's metric ``settings`` or ``version`` differ, or the run-level ``resampler`` /
  ``metric_options`` differ. ``mushra regress`` refuses such a comparison (exit 2) unless told to go on, and then
  marks the affected cells ``incomparable`` instead of regression/improvement.
- ``codec`` scope: a cell's ``codec_settings`` or ``codec_versions`` differ. That is usually what is being tested
  (a new encoder build), so it is reported loudly but does not stop the comparison.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

KEY = ["item", "condition", "metric"]
RUN_LEVEL = ("resampler", "metric_options")


def _canon(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return v
    return json.dumps(v, sort_keys=True, default=str)


def _parsed(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _dict_diff(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    a, b = _parsed(a), _parsed(b)
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [("", a, b)] if _canon(a) != _canon(b) else []
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if _canon(a.get(k)) != _canon(b.get(k))]


def differences(baseline: pd.DataFrame, current: pd.DataFrame, baseline_doc: dict | None = None,
                current_doc: dict | None = None) -> pd.DataFrame:
    """One row per distinct difference: ``scope`` (metric/codec), ``metric``, ``codec``, ``field``, ``key``,
    ``baseline``, ``current``, ``cells`` (how many shared cells show it)."""
    cols = ["settings", "version", "codec_settings", "codec_versions", "codec"]
    b = baseline[KEY + cols]
    c = current[KEY + cols[:-1]]
    m = b.merge(c, on=KEY, suffixes=("_b", "_c"))
    found: dict[tuple, int] = {}
    for r in m.to_dict(orient="records"):
        for field, scope in (("settings", "metric"), ("version", "metric"), ("codec_settings", "codec"),
                             ("codec_versions", "codec")):
            for key, vb, vc in _dict_diff(r[f"{field}_b"], r[f"{field}_c"]):
                k = (scope, r["metric"] if scope == "metric" else "", r["codec"] if scope == "codec" else "",
                     field, key, _canon(vb), _canon(vc))
                found[k] = found.get(k, 0) + 1
    for field in RUN_LEVEL:
        vb = ((baseline_doc or {}).get("settings") or {}).get(field)
        vc = ((current_doc or {}).get("settings") or {}).get(field)
        if baseline_doc is not None and current_doc is not None:
            for key, xb, xc in _dict_diff({field: vb}, {field: vc}):
                found[("metric", "*", "", "run settings", key, _canon(xb), _canon(xc))] = len(m)
    rows = [dict(zip(["scope", "metric", "codec", "field", "key", "baseline", "current"], k), cells=n)
            for k, n in found.items()]
    return pd.DataFrame(rows, columns=["scope", "metric", "codec", "field", "key", "baseline", "current", "cells"])


def describe(diffs: pd.DataFrame) -> list[str]:
    """Readable lines, one per difference."""
    return [f"{r.scope} {r.metric or r.codec}: {r.field}{'.' + r.key if r.key else ''} {r.baseline} -> "
            f"{r.current} ({r.cells} cell(s))" for r in diffs.itertuples()]
