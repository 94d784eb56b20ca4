"""Print-ready figures (matplotlib, Agg). Plotting only: the numbers come from :mod:`stats`, :mod:`bdrate`,
:mod:`agreement` and evaluate; the cost depends on the number of conditions, never on the number of ratings.

Every figure is drawn at its print size: ``width="single"`` = 3.5 in (one column), ``"double"`` = 7.16 in (full
page width, IEEE/ACM two-column templates); every font is >= 8 pt at that size. Codecs get colours from the
Okabe-Ito colour-blind-safe palette *and* distinct markers and line styles, so the figures survive greyscale
printing. Legends (codecs, hidden reference, anchors) sit below the axes where they cannot cover data or labels.
Every point carries its interval as an error bar (a codec with one bitrate too); bands are clipped to the
metric's range.

A curve frame has one row per (category, codec, kbps) with ``x`` (kbps), ``mean``, ``low``, ``high``; reference
lines come as ``category``, ``label``, ``mean``.
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

from harness.analysis import labels as L  # noqa: E402

FORMATS = ("png", "svg", "pdf")
WIDTHS = {"single": 3.5, "double": 7.16}  # inches
FONT_PT = 8
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")  # Okabe-Ito
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")
REF_STYLES = ((0, (1, 1)), (0, (4, 1.5)), (0, (4, 1.5, 1, 1.5)), (0, (6, 2)))
NICE_KBPS = (0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
RC = {"font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT,
      "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT, "legend.title_fontsize": FONT_PT,
      "figure.titlesize": FONT_PT, "font.family": "DejaVu Sans", "svg.fonttype": "none", "pdf.fonttype": 42,
      "axes.linewidth": 0.6, "lines.linewidth": 1.2, "lines.markersize": 4.5, "grid.linewidth": 0.4}


def style(i: int) -> dict:
    """Colour, marker and line style of series ``i`` (all three differ between neighbours)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _figure(width: str, n_panels: int, panel_height: float):
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {tuple(WIDTHS)}, got {width!r}")
    ncols = min(n_panels, 2 if width == "single" else 4)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTHS[width], panel_height * nrows + 0.9), squeeze=False,
                             sharey=True, layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.remove()
    return fig, flat[:n_panels]


def _ticks(ax, xs: list[float], panel_in: float) -> None:
    lo, hi = min(xs) / 1.25, max(xs) * 1.25
    ticks = [t for t in NICE_KBPS if lo <= t <= hi] or sorted({float(f"{v:.2g}") for v in xs})
    room = max(2, int(panel_in / 0.32))  # about 0.32 in per 8 pt tick label
    while len(ticks) > room:
        ticks = ticks[::2]
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))


def _legend(fig, handles, names, ncol: int, title: str | None = None) -> None:
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncol=ncol, frameon=False, handlelength=2.4,
                   columnspacing=1.0, title=title)


def curve_figure(curves: pd.DataFrame, *, ylabel: str, hlines: pd.DataFrame | None = None,
                 ylim: tuple[float, float] | None = None, value_range: tuple[float, float] | None = None,
                 width: str = "single", x_measured: bool = True, title: str | None = None,
                 legend_title: str | None = None):
    """Quality vs bitrate (log x), one panel per category: mean with error bar per point and a band between."""
    d = curves[np.isfinite(curves["x"].astype(float)) & (curves["x"].astype(float) > 0)] if len(curves) else curves
    cats = L.category_order(d["category"]) if len(d) else ["all"]
    with plt.rc_context(RC):
        fig, axes = _figure(width, len(cats), 2.3 if width == "single" else 2.4)
        codecs = sorted(d["codec"].dropna().unique(), key=L.natural_key) if len(d) else []
        handles: dict[str, object] = {}
        refs: dict[str, object] = {}
        lo_clip, hi_clip = value_range if value_range else (-np.inf, np.inf)
        for ax, cat in zip(axes, cats):
            sub = d[d["category"] == cat]
            for i, codec in enumerate(codecs):
                g = sub[sub["codec"] == codec].sort_values("x")
                if g.empty:
                    continue
                st = style(i)
                low = np.clip(g["low"].astype(float), lo_clip, hi_clip)
                high = np.clip(g["high"].astype(float), lo_clip, hi_clip)
                yerr = np.vstack([g["mean"] - low, high - g["mean"]]).clip(min=0)
                h = ax.errorbar(g["x"], g["mean"], yerr=np.nan_to_num(yerr), capsize=2, elinewidth=0.8,
                                markerfacecolor="white" if i % 2 else st["color"], label=str(codec), **st)
                if len(g) > 1 and np.isfinite(low).all():
                    ax.fill_between(g["x"], low, high, color=st["color"], alpha=0.15, lw=0)
                handles.setdefault(str(codec), h)
            if hlines is not None and len(hlines):
                lines = hlines[(hlines["category"] == cat) & np.isfinite(hlines["mean"].astype(float))]
                for j, h in enumerate(lines.itertuples()):
                    ln = ax.axhline(h.mean, color="0.3", ls=REF_STYLES[j % len(REF_STYLES)], lw=0.9)
                    refs.setdefault(str(h.label), ln)
            xs = [float(v) for v in sub["x"]]
            if xs:
                _ticks(ax, xs, WIDTHS[width] / min(len(cats), 2 if width == "single" else 4))
            ax.set_xlabel("measured bitrate (kbps)" if x_measured else "bitrate (kbps, nominal)")
            if len(cats) > 1:
                ax.set_title(str(cat))
            ax.grid(True, alpha=0.3)
            if ylim:
                ax.set_ylim(*ylim)
        for ax in axes[:: min(len(cats), 2 if width == "single" else 4)]:
            ax.set_ylabel(ylabel)
        if title:
            fig.suptitle(title)
        handles = {str(c): handles[str(c)] for c in codecs if str(c) in handles} | refs
        _legend(fig, list(handles.values()), list(handles), 2 if width == "single" else 4, legend_title)
    return fig


def condition_figure(summary: pd.DataFrame, *, xlabel: str = "MUSHRA score", xlim=(0, 100), width: str = "single"):
    """Every condition (hidden reference, codecs, anchors, named conditions) as a row: mean with its interval.

    Categorical, so it works without any bitrate; categories are dodged with their own colour and marker."""
    d = L.sort_conditions(summary.assign(category=summary.get("category", "all")))
    conds = list(dict.fromkeys(d["condition"]))
    names = {r.condition: L.label(r.condition, r.codec if "codec" in d else None, r.kbps if "kbps" in d else None)
             for r in d.itertuples()}
    cats = L.category_order(d["category"])
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTHS[width], 0.75 + 0.2 * len(conds) * max(1, len(cats)) ** 0.5 + 0.3),
                               layout="constrained")
        step = 0.7 / max(1, len(cats))
        for j, cat in enumerate(cats):
            g = d[d["category"] == cat]
            y = np.array([conds.index(c) for c in g["condition"]]) + (j - (len(cats) - 1) / 2) * step
            err = np.vstack([g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]]).clip(min=0)
            st = style(j)
            ax.errorbar(g["mean"], y, xerr=np.nan_to_num(err), fmt=st["marker"], color=st["color"], capsize=2,
                        elinewidth=0.8, label=str(cat))
        ax.set_yticks(range(len(conds)), [names[c] for c in conds])
        ax.set_ylim(len(conds) - 0.5, -0.5)
        ax.set_xlim(*xlim)
        ax.set_xlabel(xlabel)
        ax.grid(True, axis="x", alpha=0.3)
        if len(cats) > 1:
            h, lab = ax.get_legend_handles_labels()
            _legend(fig, h, lab, min(len(cats), 4))
    return fig


def item_figure(per_item: pd.DataFrame, *, ylabel: str = "MUSHRA score", ylim=(0, 100), width: str = "double"):
    """Per-item means with intervals, one slot per condition (numeric order), items dodged inside the slot."""
    d = per_item.assign(category=per_item.get("category", "all"))
    order = L.sort_conditions(d.drop_duplicates("condition").assign(category="all"))
    conds = list(order["condition"])
    names = [L.label(r.condition, getattr(r, "codec", None), getattr(r, "kbps", None)) for r in order.itertuples()]
    items = sorted(d["item"].unique(), key=L.natural_key)
    many = len(items) > 8
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTHS[width], 2.9), layout="constrained")
        step = 0.8 / max(1, len(items))
        for j, item in enumerate(items):
            g = d[d["item"] == item]
            x = np.array([conds.index(c) for c in g["condition"]]) + (j - (len(items) - 1) / 2) * step
            err = np.vstack([g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]]).clip(min=0)
            st = style(j) if not many else {"color": "0.35", "marker": "o"}
            ax.errorbar(x, g["mean"], yerr=np.nan_to_num(err), fmt=st["marker"], color=st["color"], ms=3,
                        capsize=0, elinewidth=0.5, alpha=0.9 if not many else 0.6,
                        label=str(item) if not many else ("one item" if j == 0 else None))
        ax.set_xticks(range(len(conds)), names, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.6, len(conds) - 0.4)
        ax.set_ylim(*ylim)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
        h, lab = ax.get_legend_handles_labels()
        _legend(fig, h, lab, min(max(1, len(lab)), 4))
    return fig


def scatter_figure(points: pd.DataFrame, *, xlabel: str, ylabel: str = "MUSHRA score", width: str = "single"):
    """Metric (x) vs listeners (y) per condition, both with their intervals; one colour/marker per category."""
    cats = L.category_order(points["category"])
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTHS[width], 2.9), layout="constrained")
        for j, cat in enumerate(cats):
            g = points[points["category"] == cat]
            st = style(j)
            xerr = np.vstack([g["x"] - g["x_low"], g["x_high"] - g["x"]]).clip(min=0)
            yerr = np.vstack([g["y"] - g["y_low"], g["y_high"] - g["y"]]).clip(min=0)
            ax.errorbar(g["x"], g["y"], xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt=st["marker"],
                        color=st["color"], capsize=1.5, elinewidth=0.6, label=str(cat))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        h, lab = ax.get_legend_handles_labels()
        _legend(fig, h, lab, min(len(cats), 4))
    return fig


def save_figure(fig, out_dir: str | Path, stem: str, formats=FORMATS) -> dict[str, Path]:
    """Write ``stem.png`` (300 dpi), ``stem.svg`` and ``stem.pdf`` (vector, text kept as text) at print size."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    with plt.rc_context(RC):
        for fmt in formats:
            p = out / f"{stem}.{fmt}"
            meta = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else None)
            fig.savefig(p, dpi=300 if fmt == "png" else None, metadata=meta)
            fig.set_layout_engine("none")  # the layout is solved: later formats reuse it
            paths[fmt] = p
    plt.close(fig)
    return paths


def mushra_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """Curve frame from :func:`stats.by_codec_bitrate` output (the default interval ``ci_low``/``ci_high``)."""
    d = summary.copy()
    if "category" not in d:
        d["category"] = "all"
    x = d["measured_kbps"] if "measured_kbps" in d else pd.Series(np.nan, index=d.index)
    d["x_measured"] = x.notna()
    d["x"] = x.where(x.notna(), d["kbps"])
    d["low"], d["high"] = d["ci_low"], d["ci_high"]
    cols = ["category", "codec", "kbps", "x", "x_measured", "mean", "low", "high", "n_raters", "n_items"]
    return d[[c for c in cols if c in d.columns]]


def reference_lines(summary: pd.DataFrame) -> pd.DataFrame:
    """Horizontal lines from a per-(category, condition) summary: hidden reference and anchors (value in label)."""
    d = summary[summary["kind"].isin(["reference", "anchor"])].copy()
    if "category" not in d:
        d["category"] = "all"
    d["label"] = [f"{L.label(c)}" for c in d["condition"]]
    return L.sort_conditions(d)[["category", "label", "mean"]]


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
                    "high": hi, "x": mk.mean() if mk.notna().any() else kbps, "x_measured": bool(mk.notna().all()),
                    "n_items": len(g)})
    return pd.DataFrame(out, columns=["category", "codec", "kbps", "x", "x_measured", "mean", "low", "high",
                                      "n_items"])
