"""Paper tables: measured kbps (nominal in brackets), n, mean [low, high], reference/anchor rows, best per
bitrate, numeric order; the LaTeX compiles with pdflatex + booktabs (or, without a TeX engine, parses)."""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from harness.analysis import tables

SUMMARY = pd.DataFrame({
    "category": ["speech"] * 6,
    "condition": ["opus_12", "reference", "opus_6", "lp3.5", "lyra_6", "C1"],
    "kind": ["codec", "reference", "codec", "anchor", "codec", "codec"],
    "codec": ["opus", None, "opus", None, "lyra", None], "kbps": [12.0, np.nan, 6.0, np.nan, 6.0, np.nan],
    "measured_kbps": [11.8, np.nan, 6.02, np.nan, 6.0, np.nan], "n_raters": [20, 20, 20, 20, 18, 20],
    "mean": [70.04, 98.0, 40.0, 20.0, 52.5, 61.0], "ci_low": [66.0, 97.1, 35.2, 15.0, 47.0, 55.5],
    "ci_high": [73.9, 99.0, 44.1, 26.0, 57.9, 66.0]})


def test_rows_order_bitrate_text_intervals_and_best():
    t = tables.condition_table(SUMMARY)
    assert list(t["condition"]) == ["reference", "lyra_6", "opus_6", "opus_12", "C1", "lp3.5"]
    assert list(t["best_at_bitrate"]) == [False, True, False, False, False, False]  # lyra beats opus at 6 kbps
    md = tables.to_markdown(t, caption="MUSHRA")
    assert "| speech | hidden reference | – | 20 | 98.0 | [97.1, 99.0] |" in md
    assert "|  | opus 12 kbps | 11.8 (12) | 20 | 70.0 | [66.0, 73.9] |" in md
    assert "|  | lyra 6 kbps | 6.0 | 18 | **52.5** | [47.0, 57.9] |" in md
    assert "|  | C1 | – | 20 | 61.0 | [55.5, 66.0] |" in md  # no bitrate: kept, not dropped
    assert "anchor 3.5 kHz LP" in md and "±" not in md
    back = pd.read_csv(_csv(t))
    assert list(back.columns) == list(tables.CSV_COLUMNS)


def _csv(t):
    import io

    buf = io.StringIO()
    t.to_csv(buf, index=False)
    buf.seek(0)
    return buf


def _structure_ok(tex: str) -> None:
    """Parser check: balanced braces, booktabs rules in order, every row has the tabular's column count."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    body = tex[tex.index(r"\toprule"):tex.index(r"\bottomrule")]
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    ncol = len(re.search(r"\\begin\{tabular\}\{([lrc]+)\}", tex).group(1))
    for line in body.splitlines():
        m = re.match(r"\\multicolumn\{(\d+)\}", line)
        if m:
            assert int(m.group(1)) == ncol, line
        elif line.endswith(r"\\"):
            assert len(re.split(r"(?<!\\)&", line)) == ncol, line


def test_latex_booktabs_compiles(tmp_path):
    t = tables.condition_table(SUMMARY.assign(category=["speech & music_1"] * 6))
    tex = tables.to_latex(t, caption="MUSHRA 95 % intervals", label="tab:m_1")
    _structure_ok(tex)
    assert r"\textbf{52.5}" in tex and r"\emph{speech \& music\_1}" in tex and "opus & 11.8 (12)" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex (apt-get install texlive-latex-recommended); structure checked by the parser")
    doc = tmp_path / "t.tex"
    doc.write_text("\\documentclass[twocolumn]{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                   "\\usepackage{booktabs}\n\\begin{document}\n" + tex + "\\end{document}\n")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000
    assert "Overfull" not in r.stdout  # fits one column of a two-column paper


def test_metric_summary_counts_failed_cells_and_never_fills_them():
    rows = pd.DataFrame({"metric": "pesq", "category": "speech", "condition": ["o@6"] * 3 + ["reference"],
                         "codec": ["opus"] * 3 + [None], "kbps": [6.0] * 3 + [np.nan],
                         "measured_kbps": [5.9] * 3 + [np.nan], "value": [2.0, 3.0, np.nan, 4.5]})
    s = tables.metric_summary(rows, "pesq")
    o = s[s["condition"] == "o@6"].iloc[0]
    assert (o["n_items"], o["n_failed"], o["mean"]) == (2, 1, 2.5) and o["ci_low"] < 2.5 < o["ci_high"]
