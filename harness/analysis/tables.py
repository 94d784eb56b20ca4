"""Comparison tables codec x bitrate (mean +- CI half-width) in Markdown, LaTeX (booktabs) and CSV.

Input is a curve-like summary with ``category``, ``codec``, ``kbps``, ``mean``, ``low``, ``high`` (and optionally
``x`` = measured kbps). The cell text is ``mean ± h`` with ``h = (high - low) / 2`` (the CI is symmetric for the
t interval; for a bootstrap interval ``h`` is the mean half-width, and the CSV keeps both ends).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd


def _cell(mean: float, low: float, high: float, digits: int, pm: str) -> str:
    if mean is None or not math.isfinite(mean):
        return "–"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} {pm} {(high - low) / 2:.{digits}f}"


def wide(summary: pd.DataFrame, *, digits: int = 1, pm: str = "±") -> pd.DataFrame:
    """Rows (category, codec), columns nominal kbps, cells ``mean ± h``."""
    d = summary.copy()
    if "category" not in d:
        d["category"] = "all"
    d["cell"] = [_cell(m, lo, hi, digits, pm) for m, lo, hi in zip(d["mean"], d["low"], d["high"])]
    t = d.pivot_table(index=["category", "codec"], columns="kbps", values="cell", aggfunc="first")
    t = t.reindex(sorted(t.columns), axis=1).fillna("–")
    t.columns = [f"{k:g} kbps" for k in t.columns]
    return t


def to_markdown(summary: pd.DataFrame, *, digits: int = 1, caption: str = "") -> str:
    t = wide(summary, digits=digits)
    head = ["category", "codec", *t.columns]
    lines = ([f"*{caption}*", ""] if caption else []) + ["| " + " | ".join(head) + " |",
                                                           "|" + "---|" * 2 + "---:|" * len(t.columns)]
    for (cat, codec), row in t.iterrows():
        lines.append("| " + " | ".join([str(cat), str(codec), *row.tolist()]) + " |")
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
        s = s.replace(a, b)
    return s


def to_latex(summary: pd.DataFrame, *, digits: int = 1, caption: str = "", label: str = "tab:mushra") -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``)."""
    t = wide(summary, digits=digits, pm="$\\pm$")
    cols = "ll" + "r" * len(t.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + _tex(caption).replace("±", r"$\pm$") + "}")
    lines += [r"\label{" + label + "}", r"\begin{tabular}{" + cols + "}", r"\toprule",
              " & ".join(["Category", "Codec", *[_tex(c) for c in t.columns]]) + r" \\", r"\midrule"]
    prev = None
    for (cat, codec), row in t.iterrows():
        if prev is not None and cat != prev:
            lines.append(r"\midrule")
        cells = [c if "$" in c else _tex(c).replace("–", "--") for c in row.tolist()]
        lines.append(" & ".join([_tex(str(cat)) if cat != prev else "", _tex(str(codec)), *cells]) + r" \\")
        prev = cat
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(summary: pd.DataFrame, path: str | Path) -> Path:
    """Long numeric CSV: category, codec, kbps, measured_kbps, mean, ci_low, ci_high (+ n columns if present)."""
    d = summary.copy()
    if "category" not in d:
        d["category"] = "all"
    d = d.rename(columns={"x": "measured_kbps", "low": "ci_low", "high": "ci_high"})
    cols = [c for c in ("category", "codec", "kbps", "measured_kbps", "mean", "ci_low", "ci_high", "n_ratings",
                        "n_raters", "n_items") if c in d.columns]
    p = Path(path)
    d[cols].sort_values(["category", "codec", "kbps"]).to_csv(p, index=False)
    return p


def write_all(summary: pd.DataFrame, out_dir: str | Path, stem: str, *, caption: str, digits: int = 1
              ) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "tex": out / f"{stem}.tex", "csv": out / f"{stem}.csv"}
    paths["md"].write_text(to_markdown(summary, digits=digits, caption=caption))
    paths["tex"].write_text(to_latex(summary, digits=digits, caption=caption, label=f"tab:{stem}"))
    to_csv(summary, paths["csv"])
    return paths
