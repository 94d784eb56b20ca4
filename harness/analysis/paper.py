"""Publication outputs of a report: figures (single and double column), paper tables, BD-rates, metric-listener
agreement and the summary sentences. Each builder writes its files into ``out``, appends them to ``files`` and
returns HTML fragments; :mod:`report` puts the fragments in order (summary, figures, tables, screening, settings).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import bdrate, plots, tables
from harness.analysis import html as H
from harness.analysis import labels as L
from harness.analysis.metric_domains import DOMAINS

METRIC_LABEL = {"si-snr": "SI-SNR (dB)", "si-sdr": "SI-SDR (dB)", "visqol-audio": "ViSQOL audio (MOS-LQO)",
                "visqol-speech": "ViSQOL speech (MOS-LQO)", "mel": "log-mel L1 distance (lower is better)",
                "pesq": "PESQ wide-band (MOS-LQO)", "pesq-nb": "PESQ narrow-band (MOS-LQO)", "stoi": "STOI",
                "estoi": "extended STOI", "dnsmos": "DNSMOS P.835 OVRL"}


def _range(metric: str) -> tuple[float, float] | None:
    dom = DOMAINS.get(metric)
    return None if dom is None else dom.value_range  # an infinite bound clips nothing on that side


def _figure(fig, out: Path, stem: str, files: list, caption: str) -> str:
    wide = fig.get_size_inches()[0] > plots.WIDTHS["single"] + 0.1
    paths = plots.save_figure(fig, out, stem)
    files += list(paths.values())
    files_text = f"<code>{html.escape(stem)}.{{{','.join(paths)}}}</code>"
    return H.inline_svg(paths["svg"], caption=f"{html.escape(caption)} Files next to this report: {files_text}.",
                        wide=wide)


def mushra_figures(by_cond: pd.DataFrame, by_codec: pd.DataFrame, per_item: pd.DataFrame, *, out: Path,
                   files: list, ci_name: str) -> list[str]:
    """Quality-vs-bitrate (single + double column), per-condition and per-item figures."""
    parts = []
    curves = plots.mushra_curves(by_codec) if len(by_codec) else pd.DataFrame()
    curves = curves[curves["kbps"].notna()] if len(curves) else curves
    if len(curves):
        measured = bool(curves["x_measured"].all())
        n = int(by_codec["n_raters"].max()) if "n_raters" in by_codec else 0
        cap = (f"MUSHRA mean vs {'measured' if measured else 'nominal'} bitrate, 95 % interval ({ci_name}) on "
               f"every point, up to {n} raters; hidden reference and anchors as lines.")
        for width, stem in (("single", "mushra_vs_bitrate"), ("double", "mushra_vs_bitrate_double")):
            fig = plots.curve_figure(curves, ylabel="MUSHRA score", ylim=(0, 100), value_range=(0, 100),
                                     hlines=plots.reference_lines(by_cond), width=width, x_measured=measured,
                                     legend_title=f"mean and 95 % interval, up to {n} raters")
            parts.append(_figure(fig, out, stem, files, f"Figure ({width} column): {cap}"))
    fig = plots.condition_figure(by_cond)
    parts.append(_figure(fig, out, "mushra_conditions", files,
                         f"Every condition including hidden reference and anchors: mean and 95 % interval "
                         f"({ci_name})."))
    if len(per_item):
        meta = by_cond.drop_duplicates("condition").set_index("condition")
        pi = per_item.assign(kind=per_item["condition"].map(meta["kind"]) if "kind" in meta else None,
                             codec=per_item["condition"].map(meta["codec"]) if "codec" in meta else None,
                             kbps=per_item["condition"].map(meta["kbps"]) if "kbps" in meta else np.nan)
        fig = plots.item_figure(pi)
        parts.append(_figure(fig, out, "mushra_items", files,
                             "Per item: mean and 95 % interval over raters for every condition."))
    return parts


def mushra_table(by_cond: pd.DataFrame, *, out: Path, files: list, ci_name: str) -> str:
    t = tables.condition_table(by_cond)
    paths = tables.write_all(t, out, "mushra_table", caption=f"MUSHRA scores, 95 % interval ({ci_name}).")
    files += list(paths.values())
    return _table_block(t, "n raters", 1, paths)


def _table_block(t: pd.DataFrame, n_label: str, digits: int, paths: dict) -> str:
    d = tables.display(t, digits=digits, n_label=n_label)
    d["Mean"] = [f"<b>{m}</b>" if b else m for m, b in zip(d["Mean"], d["best"])]
    d = d.drop(columns=["best"])
    names = ", ".join(f"<code>{html.escape(p.name)}</code>" for p in paths.values())
    return (H.table_html(d, escape=False) + f'<p class="note">{html.escape(tables.NOTE)} Files: {names}.</p>')


def objective_outputs(rows: pd.DataFrame, *, out: Path, files: list) -> tuple[list[str], list[str]]:
    """Per metric: curves (single + double column) and a paper table. Returns (figure parts, table parts)."""
    figs, tabs = [], []
    rows = rows if rows["category"].nunique() <= 1 else pd.concat([rows, rows.assign(category="all")])
    for metric in sorted(rows["metric"].unique(), key=L.natural_key):
        label = METRIC_LABEL.get(metric, metric)
        curves = plots.metric_curves(rows, metric)
        summ = tables.metric_summary(rows, metric)
        if len(curves):
            refs = summ[summ["kind"].isin(["reference", "anchor"]) & np.isfinite(summ["mean"])]
            hl = plots.reference_lines(refs) if len(refs) else None
            n = int(curves["n_items"].max())
            for width, stem in (("single", f"{metric}_vs_bitrate"),):  # double column: MUSHRA only (time)
                fig = plots.curve_figure(curves, ylabel=label, hlines=hl, width=width, value_range=_range(metric),
                                         x_measured=bool(curves["x_measured"].all()),
                                         legend_title=f"mean over n = {n} items, 95 % t interval")
                figs.append(_figure(fig, out, stem, files, f"{label} vs bitrate ({width} column): mean over "
                                    f"n = {n} items per point, 95 % t interval, clipped to the metric's range."))
        hib = DOMAINS[metric].higher_is_better if metric in DOMAINS else True
        t = tables.condition_table(summ, n_column="n_items", higher_is_better=hib)
        paths = tables.write_all(t, out, f"{metric}_table", caption=f"{label}: mean over items, 95 % t interval.",
                                 digits=2, n_label="n items")
        files += list(paths.values())
        failed = int(summ["n_failed"].sum())
        note = (f'<p class="note">{failed} cell(s) failed and are left out (see "Every cell").</p>'
                if failed else "")
        tabs.append(f"<h3>{html.escape(label)}</h3>" + _table_block(t, "n items", 2, paths) + note)
    return figs, tabs


def bd_outputs(data: pd.DataFrame, rows: pd.DataFrame | None, *, out: Path, files: list, baseline: str | None,
               seed: int) -> pd.DataFrame:
    """BD-rate / BD-quality of MUSHRA (raters resampled) and of every metric (items resampled), all categories."""
    panel = data if data["category"].nunique() <= 1 else pd.concat([data, data.assign(category="all")])
    parts = [bdrate.bd_table(panel[panel["kind"] == "codec"], value="score", cluster="rater", baseline=baseline,
                             seed=seed).assign(quality="MUSHRA")]
    if rows is not None and len(rows):
        r = rows[np.isfinite(rows["value"].astype(float))]
        r = r if r["category"].nunique() <= 1 else pd.concat([r, r.assign(category="all")])
        for metric in sorted(r["metric"].unique(), key=L.natural_key):
            hib = DOMAINS[metric].higher_is_better if metric in DOMAINS else True
            parts.append(bdrate.bd_table(r[r["metric"] == metric], value="value", cluster="item", baseline=baseline,
                                         seed=seed, higher_is_better=hib).assign(quality=metric))
    bd = pd.concat(parts, ignore_index=True)
    bd = bd[["quality"] + [c for c in bd.columns if c != "quality"]]
    p = out / "bd_rate.csv"
    bd.to_csv(p, index=False)
    files.append(p)
    md = out / "bd_rate.md"
    md.write_text(bd_markdown(bd))
    files.append(md)
    return bd


def _bd_display(bd: pd.DataFrame) -> pd.DataFrame:
    def iv(v, lo, hi, d):
        return "–" if not math.isfinite(v) else f"{v:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]"

    return pd.DataFrame({
        "Quality": bd["quality"], "Category": bd["category"], "Codec vs baseline":
            [f"{c} vs {b}" for c, b in zip(bd["codec"], bd["baseline"])],
        "BD-rate % [95 % CI]": [iv(v, lo, hi, 1) for v, lo, hi in zip(bd["bd_rate_pct"], bd["bd_rate_low"],
                                                                       bd["bd_rate_high"])],
        "BD-quality [95 % CI]": [iv(v, lo, hi, 2 if q != "MUSHRA" else 1) for q, v, lo, hi in zip(
            bd["quality"], bd["bd_quality"], bd["bd_quality_low"], bd["bd_quality_high"])],
        "Note": [("; ".join(x for x in (("nominal bitrate: no measured rate" if not b.startswith("measured") else ""),
                                         n) if x)) for b, n in zip(bd["rate_basis"], bd["note"])]})


def bd_markdown(bd: pd.DataFrame) -> str:
    d = _bd_display(bd)
    lines = ["| " + " | ".join(d.columns) + " |", "|" + "---|" * len(d.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in d.itertuples(index=False)]
    return "\n".join(lines) + "\n\n" + BD_NOTE + "\n"


BD_NOTE = (f"BD-rate: Bjontegaard delta ({bdrate.CITATION}), PCHIP interpolation of log10 rate over the quality "
           "range both curves cover; negative = fewer bits than the baseline for the same score. BD-quality: mean "
           "score gain at equal rate. 95 % percentile bootstrap intervals, resampling raters (MUSHRA) or items "
           "(metrics).")


def bd_html(bd: pd.DataFrame) -> str:
    if bd.empty:
        return '<p class="note">No BD-rate: it needs two codecs with at least two bitrates each.</p>'
    return H.table_html(_bd_display(bd)) + f'<p class="note">{html.escape(BD_NOTE)}</p>'


def winner_html(by_cond: pd.DataFrame, bd: pd.DataFrame) -> str:
    """Summary sentences: the best codec condition per category, and each codec's MUSHRA BD-rate."""
    out = []
    codec = by_cond[by_cond["kind"] == "codec"]
    for cat in L.category_order(codec["category"]):
        g = codec[codec["category"] == cat].sort_values("mean", ascending=False)
        if g.empty:
            continue
        top = g.iloc[0]
        name = L.label(top["condition"], top.get("codec"), top.get("kbps"))
        ref = by_cond[(by_cond["category"] == cat) & (by_cond["kind"] == "reference")]
        text = (f"<b>{html.escape(str(cat))}</b>: highest-rated codec condition <b>{html.escape(name)}</b>, "
                f"{top['mean']:.1f} [{top['ci_low']:.1f}, {top['ci_high']:.1f}]")
        if len(g) > 1:
            sec = g.iloc[1]
            overlap = sec["ci_high"] >= top["ci_low"]
            text += (f"; next {html.escape(L.label(sec['condition'], sec.get('codec'), sec.get('kbps')))} "
                     f"{sec['mean']:.1f} [{sec['ci_low']:.1f}, {sec['ci_high']:.1f}]"
                     + (" (the intervals overlap: not clearly better)" if overlap else " (clearly behind)"))
        if len(ref):
            text += f"; hidden reference {ref['mean'].iloc[0]:.1f}"
        out.append(f"<li>{text}.</li>")
    m = bd[(bd["quality"] == "MUSHRA") & bd["bd_rate_pct"].notna()] if len(bd) else bd
    if len(m):
        rank = {c: i for i, c in enumerate(L.category_order(m["category"]))}
        m = m.assign(_r=m["category"].map(rank)).sort_values(["_r", "bd_rate_pct"])
    for r in m.itertuples():
        word = "fewer" if r.bd_rate_pct < 0 else "more"
        unclear = " (the interval includes 0: no clear difference)" if r.bd_rate_low <= 0 <= r.bd_rate_high else ""
        out.append(f"<li><b>{html.escape(str(r.category))}</b>: {html.escape(str(r.codec))} needs "
                   f"<b>{abs(r.bd_rate_pct):.0f} % {word} bits</b>{unclear} than {html.escape(str(r.baseline))} "
                   "for the same "
                   f"MUSHRA score (BD-rate {r.bd_rate_pct:+.1f} %, 95 % CI [{r.bd_rate_low:+.1f}, "
                   f"{r.bd_rate_high:+.1f}], {html.escape(r.rate_basis)} bitrate), {r.bd_quality:+.1f} points "
                   "at equal rate.</li>")
    return "<ul>" + "".join(out) + "</ul>" if out else '<p class="note">No codec conditions.</p>'
