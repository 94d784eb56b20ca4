"""Results tables for papers: one row per condition (hidden reference, codecs, named conditions, anchors) in
Markdown, LaTeX (``booktabs``) and a numeric CSV.

Columns: category, condition, bitrate (measured kbps, nominal in brackets when it differs; ``(6) nominal`` when
only the nominal rate is known), n (raters for MUSHRA, items for a metric), mean, and the interval as
``[low, high]`` (intervals need not be symmetric). Within a category the best codec at each nominal bitrate is
marked (bold) when two or more codecs share that bitrate. Rows follow :func:`labels.sort_conditions`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import labels as L
from harness.vocabulary import kind_of

CSV_COLUMNS = ("category", "condition", "kind", "codec", "kbps", "measured_kbps", "n", "mean", "ci_low", "ci_high",
               "best_at_bitrate")


def condition_table(summary: pd.DataFrame, *, n_column: str = "n_raters", higher_is_better: bool = True
                    ) -> pd.DataFrame:
    """Normalise a per-(category, condition) summary to :data:`CSV_COLUMNS`, sorted, with the best marked."""
    d = summary.copy()
    for col, val in (("category", "all"), ("kind", None), ("codec", None), ("kbps", np.nan),
                     ("measured_kbps", np.nan)):
        if col not in d:
            d[col] = val
    d["n"] = d[n_column] if n_column in d else np.nan
    d = L.sort_conditions(d)
    best = pd.Series(False, index=d.index)
    codec = d[(d["kind"].fillna("codec") == "codec") & d["codec"].notna() & np.isfinite(d["kbps"].astype(float))]
    for _, g in codec.groupby(["category", codec["kbps"].astype(float).round(3)]):
        if g["codec"].nunique() >= 2 and g["mean"].notna().any():
            best[g["mean"].idxmax() if higher_is_better else g["mean"].idxmin()] = True
    d["best_at_bitrate"] = best
    return d[list(CSV_COLUMNS)]


def display(table: pd.DataFrame, *, digits: int = 1, n_label: str = "n raters") -> pd.DataFrame:
    """Text cells for Markdown/HTML/LaTeX: Category, Condition, Bitrate (kbps), n, Mean, 95 % CI, best flag."""
    rows = []
    for r in table.itertuples():
        mean, ci = L.interval_text(r.mean, r.ci_low, r.ci_high, digits)
        rows.append({"Category": str(r.category), "Condition": L.label(r.condition, r.codec, r.kbps),
                     "Bitrate (kbps)": L.bitrate_text(r.measured_kbps, r.kbps) if r.kind not in (
                         "reference", "anchor") else "–",
                     n_label: "–" if not np.isfinite(float(r.n)) else f"{int(r.n)}", "Mean": mean, "95 % CI": ci,
                     "best": bool(r.best_at_bitrate)})
    return pd.DataFrame(rows, columns=["Category", "Condition", "Bitrate (kbps)", n_label, "Mean", "95 % CI", "best"])


NOTE = ("Bitrate: measured from the coded bytes, nominal in brackets where it differs. Mean with its 95 % "
        "interval [low, high]. Bold: best codec at that nominal bitrate.")


def to_markdown(table: pd.DataFrame, *, digits: int = 1, caption: str = "", n_label: str = "n raters") -> str:
    t = display(table, digits=digits, n_label=n_label)
    head = [c for c in t.columns if c != "best"]
    lines = ([f"*{caption}*", ""] if caption else []) + ["| " + " | ".join(head) + " |",
                                                           "|---|---|---:|---:|---:|---:|"]
    prev = None
    for r in t.to_dict("records"):
        mean = f"**{r['Mean']}**" if r["best"] else r["Mean"]
        cat = r["Category"] if r["Category"] != prev else ""
        prev = r["Category"]
        lines.append("| " + " | ".join([cat, r["Condition"], r["Bitrate (kbps)"], r[n_label], mean, r["95 % CI"]])
                     + " |")
    return "\n".join(lines) + "\n\n" + NOTE + "\n"


def tex_escape(s: str) -> str:
    out = []
    for ch in str(s):
        out.append({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                    "–": "--"}.get(ch, ch))
    return "".join(out)


def to_latex(table: pd.DataFrame, *, digits: int = 1, caption: str = "", label: str = "tab:mushra",
             n_label: str = "n raters") -> str:
    """A ``table`` float with a ``booktabs`` tabular (needs ``\\usepackage{booktabs}``); compact enough for one
    3.5 in column: a category is a sub-heading row, a codec row names the codec and its bitrate column the rate."""
    t = display(table, digits=digits, n_label=n_label)
    safe_label = re.sub(r"[^A-Za-z0-9:.-]", "-", label)
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + tex_escape(caption + " " + NOTE).strip() + "}",
             r"\label{" + safe_label + "}", r"\small", r"\setlength{\tabcolsep}{4pt}",
             r"\begin{tabular}{lrrrr}", r"\toprule",
             " & ".join(tex_escape(c) for c in ["Condition", "kbps", n_label.split()[0], "Mean", "95 % CI"])
             + r" \\", r"\midrule"]
    prev = None
    for r, raw in zip(t.to_dict("records"), table.itertuples()):
        if r["Category"] != prev:
            if prev is not None:
                lines.append(r"\midrule")
            lines.append(r"\multicolumn{5}{l}{\emph{" + tex_escape(r["Category"]) + r"}} \\")
        mean = tex_escape(r["Mean"])
        name = raw.codec if r["Bitrate (kbps)"] != "–" and isinstance(raw.codec, str) else r["Condition"]
        cells = [tex_escape(name), tex_escape(r["Bitrate (kbps)"]), tex_escape(r[n_label]),
                 r"\textbf{" + mean + "}" if r["best"] else mean, tex_escape(r["95 % CI"])]
        lines.append(" & ".join(cells) + r" \\")
        prev = r["Category"]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame, path: str | Path) -> Path:
    p = Path(path)
    table.to_csv(p, index=False)
    return p


def write_all(table: pd.DataFrame, out_dir: str | Path, stem: str, *, caption: str, digits: int = 1,
              n_label: str = "n raters") -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "tex": out / f"{stem}.tex", "csv": out / f"{stem}.csv"}
    paths["md"].write_text(to_markdown(table, digits=digits, caption=caption, n_label=n_label))
    paths["tex"].write_text(to_latex(table, digits=digits, caption=caption, label=f"tab:{stem}", n_label=n_label))
    to_csv(table, paths["csv"])
    return paths


def metric_summary(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (category, condition) mean of one metric over items with a Student-t 95 % interval and n items.

    Cells that failed (``error`` set, no value) are not averaged in; ``n_failed`` counts them."""
    from harness.analysis.stats import t_interval

    d = rows[rows["metric"] == metric]
    out = []
    for (cat, cond), g in d.groupby(["category", "condition"], sort=False):
        v = g["value"].astype(float)
        ok = v[np.isfinite(v)]
        lo, hi = t_interval(ok.to_numpy()) if len(ok) else (math.nan, math.nan)
        codec = g["codec"].dropna()
        kind = str(kind_of(cond).value)
        out.append({"category": cat, "condition": cond, "kind": kind,
                    "codec": codec.iloc[0] if len(codec) else None, "kbps": g["kbps"].astype(float).mean(),
                    "measured_kbps": g["measured_kbps"].astype(float).mean(), "n_items": len(ok),
                    "n_failed": int(len(g) - len(ok)), "mean": ok.mean() if len(ok) else math.nan,
                    "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out, columns=["category", "condition", "kind", "codec", "kbps", "measured_kbps", "n_items",
                                      "n_failed", "mean", "ci_low", "ci_high"])
