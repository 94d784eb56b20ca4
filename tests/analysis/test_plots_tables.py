import pandas as pd

from harness.analysis import plots, tables

CURVES = pd.DataFrame({"category": ["speech", "speech", "music", "music"], "codec": ["opus"] * 4,
                       "kbps": [6.0, 12.0, 6.0, 12.0], "x": [5.9, 11.8, 6.1, 12.2],
                       "mean": [40.0, 70.0, 45.0, 75.0], "low": [35.0, 66.0, 41.0, 70.0],
                       "high": [45.0, 74.0, 49.0, 80.0]})


def test_curve_figure_panels_log_axis_and_reference_lines(tmp_path):
    hl = pd.DataFrame({"category": ["speech", "music"], "label": ["hidden reference (98)"] * 2,
                       "mean": [98.0, float("inf")]})
    fig = plots.curve_figure(CURVES, ylabel="MUSHRA score", title="t", hlines=hl, ylim=(0, 100))
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["music", "speech"]
    assert all(a.get_xscale() == "log" and "kbps" in a.get_xlabel() for a in axes)
    assert len(axes[1].lines) == 2 and len(axes[0].lines) == 1  # curve + finite reference line only
    paths = plots.save_figure(fig, tmp_path, "c")
    assert {p.suffix for p in paths.values()} == {".png", ".svg", ".pdf"}
    assert all(p.stat().st_size > 1000 for p in paths.values())


def test_tables_markdown_latex_csv(tmp_path):
    md = tables.to_markdown(CURVES, caption="cap")
    assert "| speech | opus | 40.0 ± 5.0 | 70.0 ± 4.0 |" in md
    tex = tables.to_latex(CURVES, caption="mean ± CI")
    assert r"40.0 $\pm$ 5.0" in tex and r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    p = tables.to_csv(CURVES, tmp_path / "t.csv")
    back = pd.read_csv(p)
    assert list(back.columns) == ["category", "codec", "kbps", "measured_kbps", "mean", "ci_low", "ci_high"]
