"""Quality-vs-bitrate curves (matplotlib, Agg). Plotting only: the numbers come from :mod:`stats` / evaluate.

A curve frame has one row per (category, codec, kbps) with ``x`` (measured kbps, falling back to nominal),
``mean``, ``low``, ``high`` (the CI band). Reference lines (hidden reference, anchors) come as a frame with
``category``, ``label``, ``mean``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

FORMATS = ("png", "svg", "pdf")
_MARKERS = "osD^vP*Xh<>"
NICE_KBPS = (0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def _kbps_label(v: float, _pos=None) -> str:
    return f"{v:g}"


def curve_figure(curves: pd.DataFrame, *, ylabel: str, title: str, hlines: pd.DataFrame | None = None,
                 ylim: tuple[float, float] | None = None, band_label: str = "95 % CI"):
    """One panel per category: a line with a CI band per codec against measured kbps (log x)."""
    cats = sorted(curves["category"].unique(), key=lambda c: (c == "all", str(c))) if len(curves) else ["all"]
    fig, axes = plt.subplots(1, len(cats), figsize=(5.2 * len(cats) + 0.6, 4.4), squeeze=False, sharey=True)
    codecs = sorted(curves["codec"].dropna().unique())
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(codecs)}
    for ax, cat in zip(axes[0], cats):
        sub = curves[curves["category"] == cat]
        xs_all = []
        for i, codec in enumerate(codecs):
            d = sub[sub["codec"] == codec].sort_values("x")
            if d.empty:
                continue
            xs_all.extend(d["x"].tolist())
            col = colours[codec]
            ax.plot(d["x"], d["mean"], marker=_MARKERS[i % len(_MARKERS)], color=col, lw=1.8, ms=6, label=codec)
            if d["low"].notna().any():
                ax.fill_between(d["x"], d["low"], d["high"], color=col, alpha=0.18, lw=0)
        if hlines is not None and len(hlines):
            lines = hlines[(hlines["category"] == cat) & np.isfinite(hlines["mean"].astype(float))]
            for j, h in enumerate(lines.itertuples()):  # an infinite value (identical signals) has no line
                ax.axhline(h.mean, color="0.35", ls=("--", ":", "-.")[j % 3], lw=1.1)
                ax.annotate(h.label, xy=(0.99, h.mean), xycoords=("axes fraction", "data"), ha="right",
                            va="bottom", fontsize=8, color="0.25")
        ax.set_xscale("log")
        xs = [v for v in xs_all if v and math.isfinite(v) and v > 0]
        if xs:
            lo, hi = min(xs) / 1.3, max(xs) * 1.3
            ticks = [t for t in NICE_KBPS if lo <= t <= hi] or sorted({round(v, 1) for v in xs})
            ax.set_xlim(lo, hi)
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(_kbps_label))
        ax.set_xlabel("measured bitrate (kbps, log scale)")
        ax.set_title(str(cat))
        ax.grid(True, which="major", alpha=0.3)
        if ylim:
            ax.set_ylim(*ylim)
    axes[0][0].set_ylabel(ylabel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        axes[0][-1].legend(handles, labels, loc="lower right", fontsize=9, title=f"codec (band: {band_label})",
                           title_fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, out_dir: str | Path, stem: str, formats=FORMATS) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt in formats:
        p = out / f"{stem}.{fmt}"
        fig.savefig(p, dpi=150 if fmt == "png" else None, metadata={"Date": None} if fmt == "svg" else None)
        paths[fmt] = p
    plt.close(fig)
    return paths


def mushra_curves(summary: pd.DataFrame, *, ci: str = "boot") -> pd.DataFrame:
    """Curve frame from :func:`stats.by_codec_bitrate` (``per_category=True``) output."""
    d = summary.copy()
    if "category" not in d:
        d["category"] = "all"
    x = d["measured_kbps"] if "measured_kbps" in d else pd.Series(np.nan, index=d.index)
    d["x"] = x.where(x.notna(), d["kbps"])
    d["low"], d["high"] = d[f"ci_{ci}_low"], d[f"ci_{ci}_high"]
    return d[["category", "codec", "kbps", "x", "mean", "low", "high"]]


def reference_lines(summary: pd.DataFrame) -> pd.DataFrame:
    """Horizontal lines from a per-(category, condition) summary: hidden reference and anchors."""
    d = summary[summary["kind"].isin(["reference", "anchor"])].copy()
    if "category" not in d:
        d["category"] = "all"
    names = {"reference": "hidden reference", "lp3.5": "anchor 3.5 kHz LP", "lp7": "anchor 7 kHz LP"}
    d["label"] = [f"{names.get(c, c)} ({m:.0f})" for c, m in zip(d["condition"], d["mean"])]
    return d[["category", "label", "mean"]]


def metric_curves(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Curve frame for one objective metric from evaluation rows: mean and t 95 % CI over items."""
    from harness.analysis.stats import t_interval

    d = rows[(rows["metric"] == metric) & rows["codec"].notna() & rows["kbps"].notna()]
    d = d[np.isfinite(d["value"].astype(float))]
    out = []
    for (cat, codec, kbps), g in d.groupby(["category", "codec", "kbps"]):
        lo, hi = t_interval(g["value"].to_numpy())
        mk = g["measured_kbps"].astype(float)
        out.append({"category": cat, "codec": codec, "kbps": kbps, "mean": g["value"].mean(), "low": lo,
                    "high": hi, "x": mk.mean() if mk.notna().any() else kbps, "n_items": len(g)})
    return pd.DataFrame(out, columns=["category", "codec", "kbps", "x", "mean", "low", "high", "n_items"])
