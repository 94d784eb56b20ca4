import json
import re

import numpy as np
import pandas as pd

from harness.analysis import evaluate as E
from harness.analysis.report import analyze, objective_report
from harness.analysis.synthetic import synthetic_ratings
from harness.cli import main
from tests.analysis.helpers import harmonic, lowpass


def _results(tmp_path, name, values):
    rows = []
    for (item, cond, metric), v in values.items():
        rows.append({"item": item, "category": "speech", "condition": cond, "codec": cond.split("@")[0],
                     "kbps": float(cond.split("@")[1]), "measured_kbps": float(cond.split("@")[1]) * 0.98,
                     "metric": metric, "value": v, "unit": "dB", "settings": {}, "version": "t",
                     "codec_settings": {}, "codec_versions": {}, "key": f"{item}{cond}{metric}", "cached": False})
    return E.write_results(pd.DataFrame(rows), tmp_path / name, {"test": True})["json"]


BASE = {("a", "opus@6", "si-snr"): 5.0, ("a", "opus@12", "si-snr"): 9.0, ("a", "opus@6", "mel"): 0.50,
        ("b", "opus@6", "si-snr"): 6.0}


def test_regress_exit_codes_and_markdown(tmp_path, capsys):
    base = _results(tmp_path, "base", BASE)
    same = _results(tmp_path, "same", {**BASE, ("a", "opus@6", "si-snr"): 5.3})  # within 0.5 dB
    better = _results(tmp_path, "better", {**BASE, ("a", "opus@12", "si-snr"): 10.0, ("a", "opus@6", "mel"): 0.4})
    worse = _results(tmp_path, "worse", {**BASE, ("a", "opus@6", "mel"): 0.60})  # mel up = worse
    missing = _results(tmp_path, "missing", {k: v for k, v in BASE.items() if k[0] != "b"})
    assert main(["regress", str(base), str(same)]) == 0
    assert main(["regress", str(base), str(better)]) == 0
    md = tmp_path / "pr.md"
    assert main(["regress", str(base), str(worse), "--markdown", str(md)]) == 1
    text = md.read_text()
    assert "FAIL" in text and "regression" in text and "| a | opus_6kbps | mel |" in text  # old "opus@6" ids are read in the current form
    assert main(["regress", str(base), str(missing)]) == 1
    # a looser tolerance turns the regression into "within tolerance"
    assert main(["regress", str(base), str(worse), "--tolerance", "mel=0.2"]) == 0
    assert main(["regress", str(base), str(worse), "--tolerance", "mel=-1"]) == 2
    assert main(["regress", str(base), str(tmp_path / "nope.json")]) == 2
    assert "regression" in capsys.readouterr().out


def test_analyze_writes_every_report_file(tmp_path):
    df = synthetic_ratings(n_raters=12, n_items=4, seed=3)
    df.loc[(df["rater"] == "r1") & (df["kind"] == "reference"), "score"] = 40
    res = analyze(df, out_dir=tmp_path / "rep", n_resamples=500)
    assert res.n_raters == 12 and res.n_excluded >= 1
    names = {p.name for p in res.files}
    for f in ("mushra_vs_bitrate.png", "mushra_vs_bitrate.svg", "mushra_vs_bitrate.pdf", "mushra_table.md",
              "mushra_table.tex", "mushra_table.csv", "screening.csv", "paired_comparisons.csv", "analysis.json"):
        assert f in names and (tmp_path / "rep" / f).stat().st_size > 0
    page = res.html.read_text()
    assert "<svg" in page and "Post-screening" in page and "bs1534" in page
    assert not re.search(r'(src|href)="(https?:|//|[^#"][^"]*\.(png|svg|css|js))', page)  # self-contained
    tex = (tmp_path / "rep" / "mushra_table.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "[" in tex and r"$\pm$" not in tex  # [low, high]
    for f in ("mushra_vs_bitrate_double.pdf", "mushra_conditions.svg", "mushra_items.png", "bd_rate.csv"):
        assert f in names
    screen = pd.read_csv(tmp_path / "rep" / "screening.csv")
    assert screen.set_index("rater").loc["r1", "excluded"]
    doc = json.loads((tmp_path / "rep" / "analysis.json").read_text())
    assert doc["format"] == "mushra-harness/analysis" and doc["settings"]["statistics"]["n_resamples"] == 500


def test_analyze_cli_from_csv_with_encodec_preset(tmp_path, capsys):
    p = tmp_path / "ratings.csv"
    synthetic_ratings(n_raters=6, n_items=2, seed=4).to_csv(p, index=False)
    rc = main(["analyze", "--ratings", str(p), "--out", str(tmp_path / "r"), "--screening", "encodec",
               "--resamples", "200"])
    assert rc == 0 and (tmp_path / "r" / "report.html").exists()
    assert "6 raters" in capsys.readouterr().out
    assert main(["analyze", "--ratings", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x")]) == 2


def test_metric_cli_json(tmp_path, capsys):
    import soundfile as sf

    sr = 16000
    x = harmonic(sr, 1.0)
    sf.write(tmp_path / "r.wav", x, sr)
    sf.write(tmp_path / "d.wav", lowpass(x, sr, 3000), sr)
    for m in ("si-snr", "si-sdr", "mel"):
        assert main(["metric", "--reference", str(tmp_path / "r.wav"), "--degraded", str(tmp_path / "d.wav"),
                     "--metric", m, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["metric"] == m and np.isfinite(out["value"]) and "settings" in out and "version" in out
    assert main(["metric", "--reference", str(tmp_path / "missing.wav"), "--degraded", str(tmp_path / "d.wav"),
                 "--metric", "si-snr"]) == 2


def test_objective_report_from_results(tmp_path):
    path = _results(tmp_path, "res", BASE)
    page = objective_report(path, tmp_path / "obj")
    assert (tmp_path / "obj" / "si-snr_vs_bitrate.svg").exists()
    assert "<svg" in page.read_text() and "SI-SNR" in page.read_text()


def _run(tmp_path, name, shift=0.0, *, mapper="lattice", items=8, per_item=None):
    rows = []
    for i in range(items):
        for k in (6.0, 12.0):
            for metric, base in (("si-snr", 5.0 + i + k / 6), ("visqol-speech", 3.0 + 0.1 * i)):
                delta = ((per_item[i] if per_item is not None else shift) if metric == "si-snr"
                         else 0.3 if mapper != "lattice" else 0.0)  # the exponential mapper reads higher here
                settings = {"mode": "speech", "use_lattice_model": mapper == "lattice"} if metric != "si-snr" else {}
                rows.append({"item": f"i{i}", "category": "speech", "condition": f"opus_{k:g}kbps", "codec": "opus",
                             "kbps": k, "measured_kbps": k, "metric": metric, "value": base + delta, "unit": "",
                             "settings": settings, "version": "v1", "codec_settings": {}, "codec_versions": {},
                             "key": f"{i}{k}{metric}", "cached": False})
    return E.write_results(pd.DataFrame(rows), tmp_path / name, {"resampler": "soxr VHQ"})["json"]


def test_regress_refuses_a_mapper_switch_and_catches_a_small_drop_on_every_item(tmp_path, capsys):
    base = _run(tmp_path, "base")
    mapper = _run(tmp_path, "mapper", mapper="exponential")
    assert main(["regress", str(base), str(mapper)]) == 2
    err = capsys.readouterr().err
    assert "use_lattice_model" in err and "not comparable" in err
    capsys.readouterr()
    assert main(["regress", str(base), str(mapper), "--allow-settings-change"]) == 0
    out = capsys.readouterr().out
    assert "0 improvement(s)" in out and "16 incomparable" in out  # a mapper switch is not an improvement
    drop = _run(tmp_path, "drop", shift=-0.3)  # within the 0.5 dB cell tolerance on every cell
    assert main(["regress", str(base), str(drop)]) == 1
    out = capsys.readouterr().out
    assert "0 regression(s)" in out and "inferior" in out and "FAIL" in out
    noisy = _run(tmp_path, "noisy", per_item=[0.4, -0.4, 0.3, -0.3, 0.2, -0.2, 0.1, -0.1])
    assert main(["regress", str(base), str(noisy)]) == 0
    assert main(["regress", str(base), str(noisy), "--margin", "si-snr=0.05", "--strict"]) == 1
    assert main(["regress", str(base), str(drop), "--tolerance", "sisnr=0.5"]) == 2
    assert "unknown metric 'sisnr'" in capsys.readouterr().err


def test_every_metric_evaluate_offers_has_a_default_tolerance_and_margin():
    """A metric without a default tolerance got 0: any rounding difference in PESQ-NB, ESTOI or DNSMOS was a
    regression or an improvement."""
    from harness.analysis.metrics import METRICS
    from harness.analysis.regress import DEFAULT_MARGIN, DEFAULT_TOLERANCE

    assert set(METRICS) <= set(DEFAULT_TOLERANCE) and set(METRICS) <= set(DEFAULT_MARGIN)
    assert all(v > 0 for v in DEFAULT_TOLERANCE.values()) and all(v > 0 for v in DEFAULT_MARGIN.values())
