"""Print-ready figures: print sizes, fonts >= 8 pt, no overlapping text, an interval on every point, clipped
bands, categorical plots for conditions without a bitrate, numeric ordering."""

import itertools

import numpy as np
import pandas as pd
import pytest

from harness.analysis import labels as L
from harness.analysis import plots

CURVES = pd.DataFrame({"category": ["speech"] * 3 + ["music"] * 3 + ["speech"],
                       "codec": ["opus"] * 6 + ["lyra"], "kbps": [6.0, 12.0, 24.0] * 2 + [6.0],
                       "x": [5.9, 11.8, 23.9, 6.1, 12.2, 24.4, 6.0], "mean": [40, 70, 85, 45, 75, 88, 50.0],
                       "low": [35, 66, 80, 41, 70, 84, 41.0], "high": [45, 74, 90, 49, 80, 99, 59.0]})
HL = pd.DataFrame({"category": ["speech", "speech", "music"], "mean": [98.0, 21.0, 97.0],
                   "label": ["hidden reference", "anchor 3.5 kHz LP", "hidden reference"]})


def _texts(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    out = []
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_figure() is fig:
            out.append((t.get_text(), t.get_fontsize(), t.get_window_extent(r)))
    return out


def assert_print_ready(fig, width_in):
    assert fig.get_size_inches()[0] == pytest.approx(width_in)
    texts = _texts(fig)
    assert texts and min(size for _, size, _ in texts) >= 8
    fb = fig.bbox
    for name, _, bb in texts:
        assert bb.x0 >= fb.x0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y0 >= fb.y0 - 1 and bb.y1 <= fb.y1 + 1, name
    for (a, _, ba), (b, _, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb) or ba.intersection(ba, bb).width * ba.intersection(ba, bb).height < 1, (a, b)


@pytest.mark.parametrize("width", ["single", "double"])
def test_curve_figure_is_print_ready(width, tmp_path):
    fig = plots.curve_figure(CURVES, ylabel="MUSHRA score", hlines=HL, ylim=(0, 100), value_range=(0, 100),
                             width=width, legend_title="mean over n = 6 items, 95 % t interval")
    assert_print_ready(fig, plots.WIDTHS[width])
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["music", "speech"]
    assert all(a.get_xscale() == "log" and a.get_xlabel() == "measured bitrate (kbps)" for a in axes)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert fig.legends[0].get_title().get_text() == "mean over n = 6 items, 95 % t interval"
    assert legend[:2] == ["lyra", "opus"] and "hidden reference" in legend and "anchor 3.5 kHz LP" in legend
    # lyra has one bitrate: it still gets an error bar (interval on every point)
    speech = axes[1]
    bars = [c for c in speech.containers if c.get_label() == "lyra"]
    seg = bars[0].lines[2][0].get_segments()
    assert len(seg) == 1 and seg[0][0][1] == pytest.approx(41) and seg[0][1][1] == pytest.approx(59)
    paths = plots.save_figure(fig, tmp_path, "c")
    assert {p.suffix for p in paths.values()} == {".png", ".svg", ".pdf"}
    assert paths["pdf"].read_bytes()[:4] == b"%PDF" and "<svg" in paths["svg"].read_text()[:400]
    from PIL import Image

    w, _ = Image.open(paths["png"]).size
    assert w == pytest.approx(plots.WIDTHS[width] * 300, abs=2)


def test_bands_are_clipped_to_the_metric_range():
    d = CURVES.assign(high=CURVES["high"] / 20, low=CURVES["low"] / 20, mean=CURVES["mean"] / 20)
    d.loc[5, "high"] = 5.9  # past ViSQOL's 5
    fig = plots.curve_figure(d, ylabel="ViSQOL", value_range=(1, 5), ylim=(1, 5))
    tops = [seg[1][1] for c in fig.axes[0].containers for seg in c.lines[2][0].get_segments()]
    assert max(tops) <= 5.0
    band_max = max(p.get_paths()[0].vertices[:, 1].max() for p in fig.axes[0].collections if p.get_paths())
    assert band_max <= 5.0


def test_nominal_axis_is_not_called_measured():
    fig = plots.curve_figure(CURVES, ylabel="s", x_measured=False)
    assert all(a.get_xlabel() == "bitrate (kbps, nominal)" for a in fig.axes)


def test_condition_and_item_figures_without_bitrates(tmp_path):
    # webMUSHRA-style names: no bitrate anywhere; C10 sorts after C2; reference first, anchors last
    conds = ["C10", "reference", "C2", "lp3.5", "C1"]
    summ = pd.DataFrame({"category": "all", "condition": conds, "kind": ["codec", "reference", "codec", "anchor",
                                                                         "codec"],
                         "codec": [None] * 5, "kbps": [np.nan] * 5, "mean": [60, 97, 40, 20, 30.0],
                         "ci_low": [55, 95, 35, 15, 25.0], "ci_high": [65, 99, 45, 25, 35.0]})
    fig = plots.condition_figure(summ)
    assert_print_ready(fig, 3.5)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "hidden reference", "C1", "C2", "C10", "anchor 3.5 kHz LP"]
    per_item = pd.concat([summ.assign(item=f"item{i}", mean=summ["mean"] + i) for i in (1, 2, 10)])
    fig = plots.item_figure(per_item)
    assert_print_ready(fig, 7.16)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["item1", "item2", "item10"]


def test_natural_ordering():
    names = ["opus_12", "opus_6", "opus_24", "C10", "C2", "lyra@3.2"]
    assert sorted(names, key=L.natural_key) == ["C2", "C10", "lyra@3.2", "opus_6", "opus_12", "opus_24"]
    assert L.bitrate_text(11.83, 12) == "11.8 (12)" and L.bitrate_text(12.02, 12) == "12.0"
    assert L.bitrate_text(float("nan"), 6) == "(6) nominal" and L.bitrate_text(None, None) == "–"
