"""Compare two evaluation results files cell by cell (``mushra regress BASELINE.json CURRENT.json``).

A cell is (item, condition, metric). ``delta = current - baseline``; for metrics where lower is better (``mel``)
the sign is flipped so a positive ``change`` is always an improvement. A change worse than ``-tolerance`` is a
regression, better than ``+tolerance`` an improvement. Tolerances are per metric in the metric's unit; a
tolerance for ``visqol`` applies to both ``visqol-audio`` and ``visqol-speech``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.analysis.results import read_results
from harness.analysis.metrics import HIGHER_IS_BETTER
from harness.errors import HarnessError

DEFAULT_TOLERANCE = {"si-snr": 0.5, "si-sdr": 0.5, "visqol-audio": 0.05, "visqol-speech": 0.05, "mel": 0.02,
                     "pesq": 0.05, "stoi": 0.01}
KEY = ["item", "condition", "metric"]


class RegressError(HarnessError):
    """Bad tolerance or incomparable results."""


def parse_tolerances(specs: list[str] | None) -> dict[str, float]:
    """``["si-snr=0.5", "visqol=0.05"]`` -> dict; ``visqol`` expands to both ViSQOL modes."""
    tol = dict(DEFAULT_TOLERANCE)
    for spec in specs or []:
        name, sep, val = spec.partition("=")
        try:
            value = float(val)
        except ValueError:
            value = math.nan
        if not sep or not math.isfinite(value) or value < 0:
            raise RegressError(f"bad tolerance '{spec}': use METRIC=NONNEGATIVE_NUMBER, e.g. si-snr=0.5")
        names = ["visqol-audio", "visqol-speech"] if name == "visqol" else [name]
        for n in names:
            tol[n] = value
    return tol


def compare(baseline: pd.DataFrame, current: pd.DataFrame, tolerances: dict[str, float] | None = None
            ) -> pd.DataFrame:
    """Per cell: baseline, current, delta, change (improvement > 0), tolerance, status."""
    tol = tolerances or dict(DEFAULT_TOLERANCE)
    b = baseline[KEY + ["codec", "kbps", "value"]].rename(columns={"value": "baseline"})
    c = current[KEY + ["value"]].rename(columns={"value": "current"})
    m = b.merge(c, on=KEY, how="outer", indicator="presence")
    m["delta"] = m["current"] - m["baseline"]
    sign = m["metric"].map(lambda x: 1.0 if HIGHER_IS_BETTER.get(x, True) else -1.0)
    m["change"] = m["delta"] * sign
    m["tolerance"] = m["metric"].map(lambda x: tol.get(x, 0.0))
    status = []
    for r in m.itertuples():
        if r.presence == "left_only":
            status.append("missing")
        elif r.presence == "right_only":
            status.append("new")
        elif r.baseline == r.current:
            status.append("same")
        elif math.isnan(r.change):
            status.append("regression" if math.isnan(r.current) else "improvement")
        elif r.change < -r.tolerance:
            status.append("regression")
        elif r.change > r.tolerance:
            status.append("improvement")
        else:
            status.append("within tolerance")
    m["status"] = status
    return m.drop(columns="presence").sort_values(KEY).reset_index(drop=True)


def regress_files(baseline: str | Path, current: str | Path, tolerances: dict[str, float] | None = None
                  ) -> pd.DataFrame:
    b, _ = read_results(baseline)
    c, _ = read_results(current)
    return compare(b, c, tolerances)


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def markdown(table: pd.DataFrame, *, title: str = "Objective quality regression check") -> str:
    """A Markdown summary for a pull-request comment."""
    n_reg = int((table["status"] == "regression").sum())
    n_imp = int((table["status"] == "improvement").sum())
    n_missing = int((table["status"] == "missing").sum())
    verdict = "FAIL" if n_reg or n_missing else "PASS"
    lines = [f"## {title}: {verdict}", "",
             f"{len(table)} cells compared: **{n_reg} regression(s)**, {n_imp} improvement(s), "
             f"{n_missing} missing, {int((table['status'] == 'new').sum())} new.", ""]
    changed = table[table["status"].isin(["regression", "improvement", "missing"])]
    if len(changed):
        lines += ["| status | item | condition | metric | baseline | current | delta | tolerance |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for r in changed.itertuples():
            mark = {"regression": "🔴 regression", "improvement": "🟢 improvement"}.get(r.status, r.status)
            lines.append(f"| {mark} | {r.item} | {r.condition} | {r.metric} | {_fmt(r.baseline)} | "
                         f"{_fmt(r.current)} | {_fmt(r.delta)} | {_fmt(r.tolerance)} |")
    else:
        lines.append("No cell changed beyond its tolerance.")
    lines += ["", "Tolerances (metric units): " + ", ".join(
        f"{m}={t:g}" for m, t in sorted(dict(zip(table["metric"], table["tolerance"])).items()))]
    return "\n".join(lines) + "\n"


def text_table(table: pd.DataFrame) -> str:
    changed = table[table["status"] != "same"]
    if changed.empty:
        return f"{len(table)} cells, all identical to the baseline."
    cols = ["status", "item", "condition", "metric", "baseline", "current", "delta", "tolerance"]
    return changed[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
