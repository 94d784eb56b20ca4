"""Compare two evaluation results files cell by cell (``mushra regress BASELINE.json CURRENT.json``).

A cell is (item, condition, metric). ``delta = current - baseline``; for metrics where lower is better (``mel``)
the sign is flipped so a positive ``change`` is always an improvement. A change worse than ``-tolerance`` is a
regression, better than ``+tolerance`` an improvement. Tolerances are per metric in the metric's unit; a
tolerance for ``visqol`` applies to both ``visqol-audio`` and ``visqol-speech``; an unknown metric name is an error.

Per-cell thresholds miss a small drop on every item, so each (metric, codec) also gets a **non-inferiority test
across items**: the per-item mean change (over the codec's bitrates) gives a mean change with a two-sided 90 %
Student-t interval over items (= two one-sided 95 % bounds; ICH E9, Wellek 2010). ``non-inferior``: the lower
bound is above ``-margin``; ``inferior`` (a regression, exit 1): the upper bound is below ``-margin`` (a drop larger
than the margin, beyond noise - e.g. a small drop on every item); ``inconclusive`` otherwise (reported; a failure
only with ``strict``). Cells whose metric settings differ between the runs
(:mod:`harness.analysis.comparable`) are ``incomparable``, never a regression or an improvement.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from scipy import stats as sst

from harness.analysis.comparable import differences
from harness.analysis.metrics import HIGHER_IS_BETTER, METRICS
from harness.analysis.results import read_results
from harness.errors import HarnessError

DEFAULT_TOLERANCE = {"si-snr": 0.5, "si-sdr": 0.5, "visqol-audio": 0.05, "visqol-speech": 0.05, "mel": 0.02,
                     "pesq": 0.05, "pesq-nb": 0.05, "stoi": 0.01, "estoi": 0.01, "dnsmos": 0.05}
DEFAULT_MARGIN = {"si-snr": 0.2, "si-sdr": 0.2, "visqol-audio": 0.02, "visqol-speech": 0.02, "mel": 0.01,
                  "pesq": 0.02, "pesq-nb": 0.02, "stoi": 0.005, "estoi": 0.005, "dnsmos": 0.02}
KEY = ["item", "condition", "metric"]


class RegressError(HarnessError):
    """Bad tolerance or incomparable results."""


def parse_tolerances(specs: list[str] | None, *, defaults: dict[str, float] | None = None,
                     option: str = "tolerance") -> dict[str, float]:
    """``["si-snr=0.5", "visqol=0.05"]`` -> dict; ``visqol`` expands to both ViSQOL modes; unknown names fail."""
    tol = dict(DEFAULT_TOLERANCE if defaults is None else defaults)
    known = sorted(set(METRICS) | set(tol) | {"visqol"})
    for spec in specs or []:
        name, sep, val = spec.partition("=")
        try:
            value = float(val)
        except ValueError:
            value = math.nan
        if not sep or not math.isfinite(value) or value < 0:
            raise RegressError(f"bad {option} '{spec}': use METRIC=NONNEGATIVE_NUMBER, e.g. si-snr=0.5")
        if name not in known:
            raise RegressError(f"--{option} '{spec}': unknown metric '{name}'; known: {', '.join(known)}")
        names = ["visqol-audio", "visqol-speech"] if name == "visqol" else [name]
        for n in names:
            tol[n] = value
    return tol


def compare(baseline: pd.DataFrame, current: pd.DataFrame, tolerances: dict[str, float] | None = None, *,
            incomparable: set[str] | frozenset[str] = frozenset()) -> pd.DataFrame:
    """Per cell: baseline, current, delta, change (improvement > 0), tolerance, status. Metrics in
    ``incomparable`` (``"*"``: all) get status ``incomparable`` wherever the values differ."""
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
        elif r.metric in incomparable or "*" in incomparable:
            status.append("incomparable")
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


def non_inferiority(table: pd.DataFrame, margins: dict[str, float] | None = None, *, confidence: float = 0.95
                    ) -> pd.DataFrame:
    """Per (metric, codec): mean change across items (improvement > 0) with one-sided ``confidence`` bounds, the
    margin, and ``status`` (non-inferior / inferior / inconclusive / too few items / incomparable)."""
    mar = margins or dict(DEFAULT_MARGIN)
    both = table[table["baseline"].notna() & table["current"].notna() & table["codec"].notna()]
    rows = []
    for (metric, codec), g in both.groupby(["metric", "codec"], sort=True):
        per_item = g.groupby("item")["change"].mean().to_numpy(dtype=float)
        n, margin = per_item.size, float(mar.get(metric, 0.0))
        mean = float(per_item.mean())
        lo = hi = math.nan
        if (g["status"] == "incomparable").any():
            status = "incomparable"
        elif n < 2:
            status = "too few items"  # the per-cell thresholds judge a single item
        else:
            h = float(sst.t.ppf(confidence, n - 1)) * float(per_item.std(ddof=1)) / math.sqrt(n)
            lo, hi = mean - h, mean + h
            status = "non-inferior" if lo > -margin else "inferior" if hi < -margin else "inconclusive"
        rows.append({"metric": metric, "codec": codec, "n_items": n, "mean_change": mean, "lower_bound": lo,
                     "upper_bound": hi, "margin": margin, "status": status})
    return pd.DataFrame(rows, columns=["metric", "codec", "n_items", "mean_change", "lower_bound", "upper_bound",
                                       "margin", "status"])


def regress_files(baseline: str | Path, current: str | Path, tolerances: dict[str, float] | None = None, *,
                  allow_settings_change: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cell table, differences). Raises :class:`RegressError` when metric settings differ, unless
    ``allow_settings_change`` (then those metrics' cells are ``incomparable``)."""
    b, bdoc = read_results(baseline)
    c, cdoc = read_results(current)
    diffs = differences(b, c, bdoc, cdoc)
    metric_diffs = diffs[diffs["scope"] == "metric"]
    if len(metric_diffs) and not allow_settings_change:
        from harness.analysis.comparable import describe

        raise RegressError("the two runs measured differently, so their numbers are not comparable:\n  "
                           + "\n  ".join(describe(metric_diffs))
                           + "\nRe-run the baseline with the current settings, or pass --allow-settings-change "
                             "to compare anyway (those cells are then marked 'incomparable').")
    return compare(b, c, tolerances, incomparable=set(metric_diffs["metric"])), diffs


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def verdict(table: pd.DataFrame, ni: pd.DataFrame, *, strict: bool = False) -> str:
    """FAIL on a regressed or missing cell, an inferior codec, or (``strict``) an inconclusive one."""
    failing = ["inferior", "inconclusive"] if strict else ["inferior"]
    bad = table["status"].isin(["regression", "missing"]).any() or ni["status"].isin(failing).any()
    return "FAIL" if bad else "PASS"


def markdown(table: pd.DataFrame, ni: pd.DataFrame | None = None, diffs: pd.DataFrame | None = None, *,
             title: str = "Objective quality regression check") -> str:
    """A Markdown summary for a pull-request comment."""
    ni = ni if ni is not None else non_inferiority(table)
    count = {k: int((table["status"] == k).sum()) for k in ("regression", "improvement", "missing", "new",
                                                             "incomparable")}
    lines = [f"## {title}: {verdict(table, ni)}", "",
             f"{len(table)} cells compared: **{count['regression']} regression(s)**, {count['improvement']} "
             f"improvement(s), {count['missing']} missing, {count['new']} new, {count['incomparable']} "
             "incomparable.", ""]
    if diffs is not None and len(diffs):
        from harness.analysis.comparable import describe

        lines += ["**⚠ The runs differ in settings or versions:**", ""] + [f"- {d}" for d in describe(diffs)] + [""]
    changed = table[table["status"].isin(["regression", "improvement", "missing", "incomparable"])]
    if len(changed):
        lines += ["| status | item | condition | metric | baseline | current | delta | tolerance |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for r in changed.itertuples():
            mark = {"regression": "🔴 regression", "improvement": "🟢 improvement",
                    "incomparable": "⚠ incomparable"}.get(r.status, r.status)
            lines.append(f"| {mark} | {r.item} | {r.condition} | {r.metric} | {_fmt(r.baseline)} | "
                         f"{_fmt(r.current)} | {_fmt(r.delta)} | {_fmt(r.tolerance)} |")
    else:
        lines.append("No cell changed beyond its tolerance.")
    if len(ni):
        lines += ["", "Non-inferiority across items (mean change > 0 is better; 90 % interval vs -margin):", "",
                  "| metric | codec | items | mean change | lower | upper | margin | status |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]
        for r in ni.itertuples():
            lines.append(f"| {r.metric} | {r.codec} | {r.n_items} | {_fmt(r.mean_change)} | {_fmt(r.lower_bound)} "
                         f"| {_fmt(r.upper_bound)} | {_fmt(r.margin)} | {r.status} |")
    lines += ["", "Tolerances (metric units): " + ", ".join(
        f"{m}={t:g}" for m, t in sorted(dict(zip(table["metric"], table["tolerance"])).items()))]
    return "\n".join(lines) + "\n"


def text_table(table: pd.DataFrame) -> str:
    changed = table[table["status"] != "same"]
    if changed.empty:
        return f"{len(table)} cells, all identical to the baseline."
    cols = ["status", "item", "condition", "metric", "baseline", "current", "delta", "tolerance"]
    return changed[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
