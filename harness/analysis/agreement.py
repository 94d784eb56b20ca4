"""Metric-listener agreement: how well each objective metric tracks the MUSHRA scores of this study.

For every metric in an evaluation and every category (plus ``all``), at two levels:

- **condition level**: the MUSHRA mean of each condition (the report's default estimate) against the metric's mean
  over the same items;
- **stimulus level**: the MUSHRA mean over raters of each (item, condition) against the metric on that stimulus.

Pearson's r, Spearman's rho and Kendall's tau-b (scipy.stats), each with a 95 % percentile bootstrap interval
over the points (pairs resampled with replacement, seeded). Metrics where lower is better (``mel``) are negated
first, so a positive correlation always means "agrees with listeners". Stimuli match on (item, condition);
evaluation cells that failed are left out and counted, never filled.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sst

from harness.analysis import labels as L
from harness.analysis.metric_domains import DOMAINS, content_of, out_of_domain

N_RESAMPLES = 1000
METHODS = ("pearson", "spearman", "kendall")
COLUMNS = ["metric", "level", "category", "n", *[f"{m}{s}" for m in METHODS for s in ("", "_low", "_high")],
           "resamples", "kendall_resamples", "n_failed", "domain"]


def _orient(metric: str) -> float:
    dom = DOMAINS.get(metric)
    return -1.0 if dom is not None and not dom.higher_is_better else 1.0


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(1) / np.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))


KENDALL_BUDGET = 40_000_000  # pair lookups per Kendall bootstrap (memory and time bound)


def _kendall_resamples(n: int, n_resamples: int) -> int:
    """Resamples used for Kendall's interval: all of them unless n^2 x resamples exceeds the budget (min 200)."""
    return int(min(n_resamples, max(200, KENDALL_BUDGET // max(1, n * n))))


def _boot_kendall(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each resample (rows of ``idx``), from the pairwise sign matrices of the data."""
    sx = np.sign(x[:, None] - x[None, :]).astype(np.int8)
    sy = np.sign(y[:, None] - y[None, :]).astype(np.int8)
    n = idx.shape[1]
    pairs = n * (n - 1)  # ordered pairs a != b (the diagonal has sign 0 and is removed below)
    out = np.empty(idx.shape[0])
    step = max(1, 20_000_000 // (n * n))
    for i in range(0, idx.shape[0], step):
        ia = idx[i:i + step]
        a, b = ia[:, :, None], ia[:, None, :]
        px, py = sx[a, b], sy[a, b]
        s = (px.astype(np.int32) * py).sum(axis=(1, 2))
        tx = (px == 0).sum(axis=(1, 2)) - n
        ty = (py == 0).sum(axis=(1, 2)) - n
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i:i + step] = s / np.sqrt((pairs - tx).astype(float) * (pairs - ty))
    return out


def correlations(x, y, *, n_resamples: int = N_RESAMPLES, seed: int = 0, confidence: float = 0.95) -> dict:
    """Pearson, Spearman and Kendall (tau-b) with percentile bootstrap intervals over the (x, y) pairs."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out: dict = {"n": int(x.size)}
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out | {f"{m}{s}": math.nan for m in METHODS for s in ("", "_low", "_high")}
    out["pearson"] = float(sst.pearsonr(x, y).statistic)
    out["spearman"] = float(sst.spearmanr(x, y).statistic)
    out["kendall"] = float(sst.kendalltau(x, y).statistic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    out["resamples"], out["kendall_resamples"] = n_resamples, _kendall_resamples(x.size, n_resamples)
    bx, by = x[idx], y[idx]
    boot = {"pearson": _rowwise_pearson(bx, by),
            "spearman": _rowwise_pearson(sst.rankdata(bx, axis=1), sst.rankdata(by, axis=1)),
            "kendall": _boot_kendall(x, y, idx[: _kendall_resamples(x.size, n_resamples)])}
    a = (1 - confidence) / 2
    for m, v in boot.items():
        v = v[np.isfinite(v)]
        out[f"{m}_low"], out[f"{m}_high"] = (np.quantile(v, [a, 1 - a]) if v.size else (math.nan, math.nan))
    return out


def _pairs(ratings: pd.DataFrame, rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (category, item, condition): MUSHRA mean over raters (``y``) and the metric value (``x``)."""
    y = ratings.groupby(["category", "item", "condition"], sort=False)["score"].mean().rename("y").reset_index()
    m = rows[rows["metric"] == metric][["item", "condition", "value"]].rename(columns={"value": "x"})
    m = m.assign(item=m["item"].astype(str), condition=m["condition"].astype(str))
    return y.merge(m, on=["item", "condition"], how="inner")


def _with_all(d: pd.DataFrame) -> pd.DataFrame:
    return d if d["category"].nunique() <= 1 else pd.concat([d, d.assign(category="all")], ignore_index=True)


def agreement_table(ratings: pd.DataFrame, rows: pd.DataFrame, *, summary: pd.DataFrame | None = None,
                    n_resamples: int = N_RESAMPLES, seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(table, scatter points per metric). ``ratings``: screened ratings; ``rows``: evaluation rows;
    ``summary``: per (category, condition) MUSHRA summary with ``mean, ci_low, ci_high`` (the plotted interval)."""
    out, points = [], {}
    for k, metric in enumerate(sorted(rows["metric"].unique(), key=L.natural_key)):
        pairs = _pairs(ratings, rows, metric)
        if pairs.empty:
            continue
        sign = _orient(metric)
        failed = pairs[~np.isfinite(pairs["x"].astype(float))]
        good = _with_all(pairs[np.isfinite(pairs["x"].astype(float))])
        cond = good.groupby(["category", "condition"], sort=False).agg(
            x=("x", "mean"), y=("y", "mean"), n_items=("x", "size"),
            x_sd=("x", "std")).reset_index()
        if summary is not None and len(summary):
            s = summary[["category", "condition", "mean", "ci_low", "ci_high"]]
            cond = cond.merge(s, on=["category", "condition"], how="left")
            cond["y"] = cond["mean"].where(cond["mean"].notna(), cond["y"])
        for cat in L.category_order(good["category"]):
            g, c = good[good["category"] == cat], cond[cond["category"] == cat]
            contents = {content_of(x) for x in (pairs["category"] if cat == "all" else [cat])}
            notes = sorted({n for ct in contents if (n := out_of_domain(metric, ct))})
            nf = int((failed["category"] == cat).sum()) if cat != "all" else len(failed)
            for level, d in (("condition", c), ("stimulus", g)):
                r = correlations(sign * d["x"].to_numpy(float), d["y"].to_numpy(float), n_resamples=n_resamples,
                                 seed=seed + 7919 * k + (level == "stimulus"))
                out.append({"metric": metric, "level": level, "category": cat, **r, "n_failed": nf,
                            "domain": "; ".join(notes)})
        t = sst.t.ppf(0.975, np.maximum(cond["n_items"] - 1, 1))
        half = t * cond["x_sd"] / np.sqrt(cond["n_items"])
        pts = cond.assign(x_low=cond["x"] - half, x_high=cond["x"] + half)
        if "ci_low" not in pts:
            pts = pts.assign(ci_low=np.nan, ci_high=np.nan)
        pts = pts.rename(columns={"ci_low": "y_low", "ci_high": "y_high"})
        if pts["category"].nunique() > 1:
            pts = pts[pts["category"] != "all"]
        points[metric] = pts[["category", "condition", "x", "x_low", "x_high", "y", "y_low", "y_high", "n_items"]]
    return pd.DataFrame(out, columns=COLUMNS), points


def _fmt(r, m: str) -> str:
    return f"{r[m]:.2f} [{r[m + '_low']:.2f}, {r[m + '_high']:.2f}]"


def verdict(table: pd.DataFrame, *, names: dict[str, str] | None = None) -> str:
    """A plain sentence: which metric tracks the listeners best (condition level, Spearman), how sure that is,
    and which metrics were used outside their domain."""
    names = names or {}
    d = table[(table["level"] == "condition") & table["spearman"].notna()]
    if d.empty:
        return ("No metric could be compared with the listeners: the evaluation shares fewer than 3 conditions "
                "with the ratings (run `mushra evaluate --study DIR` on the same study).")
    cat = "all" if "all" in set(d["category"]) else L.category_order(d["category"])[0]
    d = d[d["category"] == cat].sort_values(["spearman", "pearson"], ascending=False)
    best = d.iloc[0]
    nm = names.get(best["metric"], best["metric"])
    text = (f"On this study {nm} tracks the listeners best: Spearman rho = {_fmt(best, 'spearman')} with the "
            f"MUSHRA means over {best['n']} conditions ({'all categories' if cat == 'all' else cat}; Pearson r = "
            f"{_fmt(best, 'pearson')}).")
    if len(d) > 1:
        second = d.iloc[1]
        overlap = second["spearman_high"] >= best["spearman_low"]
        text += (f" Next: {names.get(second['metric'], second['metric'])} ({second['spearman']:.2f}); "
                 + ("the intervals overlap, so this study cannot tell the two apart." if overlap else
                    "the intervals do not overlap."))
    outside = table[(table["domain"] != "") & ~table["domain"].str.contains("not checked")]
    if len(outside):
        text += " Outside their valid domain: " + "; ".join(sorted(set(
            s for v in outside["domain"] for s in v.split("; ")))) + " (those correlations mean little)."
    return text
