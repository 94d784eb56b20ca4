"""`mushra analyze --study DIR --evaluation eval.json` end to end on a real prepared study (Opus-coded stimuli,
anchors, hidden reference): BD-rate table, agreement section, single- and double-column figures, paper tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.audio import write_audio
from harness.cli import main
from tests.analysis.helpers import harmonic, lowpass

SR = 48000
LADDERS = {"opus": (6.0, 12.0, 24.0), "opusx": (8.0, 16.0)}  # opusx: Opus again, another label


def _opus_ok():
    try:
        from harness.codecs import get_codec_class

        return get_codec_class("opus").availability()[0]
    except Exception:
        return False


def _study(tmp_path):
    from harness.codecs import create_codec, transcode
    from harness.manifest import ConditionRecord, ItemRecord, Manifest, StimulusRecord
    from harness.vocabulary import condition_id

    study = tmp_path / "study"
    items, stim, conds = [], [], [ConditionRecord("reference", "reference"), ConditionRecord("lp3.5", "anchor"),
                                  ConditionRecord("lp7", "anchor")]
    for codec, ladder in LADDERS.items():
        conds += [ConditionRecord(condition_id(codec, k), "codec", codec, k) for k in ladder]
    for i, cat in enumerate(("speech", "music")):
        x = harmonic(SR, 1.0, seed=i)
        write_audio(study / "refs" / f"i{i}.wav", x, SR)
        items.append(ItemRecord(f"i{i}", cat, "src.wav", f"refs/i{i}.wav", 1.0))
        for cid, kind, y in (("reference", "reference", x), ("lp3.5", "anchor", lowpass(x, SR, 3500)),
                             ("lp7", "anchor", lowpass(x, SR, 7000))):
            write_audio(study / "stimuli" / f"i{i}_{cid}.wav", y, SR)
            stim.append(StimulusRecord(item=f"i{i}", condition=cid, kind=kind, path=f"stimuli/i{i}_{cid}.wav",
                                       sha256="x", loudness_lufs=-23.0, gain_db=0.0))
        for c in conds[3:]:
            res = transcode(create_codec("opus", kbps=c.kbps), x, SR)
            write_audio(study / "stimuli" / f"i{i}_{c.id}.wav", res.audio, SR)
            stim.append(StimulusRecord(item=f"i{i}", condition=c.id, kind="codec", path=f"stimuli/i{i}_{c.id}.wav",
                                       sha256="x", loudness_lufs=-23.0, gain_db=0.0, codec=c.codec,
                                       nominal_kbps=c.kbps, measured_kbps=res.measured_kbps))
    Manifest(study_name="paper", study_hash="h", sample_rate=SR, channels=1, loudness_target_lufs=-23.0,
             items=tuple(items), conditions=tuple(conds), stimuli=tuple(stim)).save(study)
    return study, conds


def _ratings(conds, n_raters=10, seed=0):
    rng = np.random.default_rng(seed)
    q = {"reference": 98.0, "lp3.5": 20.0, "lp7": 45.0}
    for c in conds[3:]:
        q[c.id] = 20 + 17 * np.log2(c.kbps) - (0 if c.codec == "opusx" else 6)
    rows = [{"rater": f"r{r}", "item": f"i{i}", "condition": c, "score": float(np.clip(round(
        v + off + rng.normal(0, 6)), 0, 100))}
        for r, off in enumerate(rng.normal(0, 4, n_raters)) for i in range(2) for c, v in q.items()]
    return pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.skipif(not _opus_ok(), reason="opus adapter/libopus not available")
def test_analyze_study_with_evaluation_writes_the_paper_outputs(tmp_path, capsys):
    study, conds = _study(tmp_path)
    ratings = tmp_path / "ratings.csv"
    _ratings(conds).to_csv(ratings, index=False)
    assert main(["evaluate", "--study", str(study), "--metric", "si-snr", "--metric", "mel", "--out",
                 str(tmp_path / "eval"), "--jobs", "1", "--quiet"]) == 0
    out = tmp_path / "report"
    assert main(["analyze", "--ratings", str(ratings), "--study", str(study), "--evaluation",
                 str(tmp_path / "eval" / "evaluation.json"), "--out", str(out), "--resamples", "500"]) == 0
    for f in ("mushra_vs_bitrate.pdf", "mushra_vs_bitrate_double.svg", "mushra_conditions.png",
              "mushra_items.pdf", "si-snr_vs_bitrate.pdf", "agreement_mel.svg", "mushra_table.tex",
              "si-snr_table.md", "bd_rate.csv", "agreement.csv"):
        assert (out / f).stat().st_size > 500, f
    bd = pd.read_csv(out / "bd_rate.csv")
    m = bd[(bd["quality"] == "MUSHRA") & (bd["category"] == "all")].iloc[0]
    assert (m["baseline"], m["codec"], m["rate_basis"]) == ("opus", "opusx", "measured")
    assert m["bd_rate_pct"] < -10 and m["bd_rate_low"] < m["bd_rate_pct"] < m["bd_rate_high"]
    agree = pd.read_csv(out / "agreement.csv")
    assert set(agree["metric"]) == {"si-snr", "mel"} and set(agree["level"]) == {"condition", "stimulus"}
    page = (out / "report.html").read_text()
    assert page.index("Summary") < page.index("BD-rate") < page.index("Figures") < page.index("Post-screening")
    assert "fewer bits" in page and "tracks the listeners best" in page
    table = (out / "mushra_table.md").read_text()
    assert table.index("opus 6 kbps") < table.index("opus 12 kbps") < table.index("opus 24 kbps")


def test_conditions_without_bitrate_neither_crash_nor_vanish(tmp_path):
    """webMUSHRA-style names (C1, C2, C10): a categorical figure and table rows, in numeric order; no curve."""
    import warnings

    from harness.analysis.report import analyze

    rng = np.random.default_rng(1)
    means = {"reference": 97, "C1": 40, "C2": 60, "C10": 75, "lp3.5": 20}
    rows = [{"rater": f"r{r}", "item": f"t{i}", "condition": c, "score": float(np.clip(m + rng.normal(0, 8), 0, 100))}
            for r in range(8) for i in range(3) for c, m in means.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(pd.DataFrame(rows), out_dir=tmp_path / "r", n_resamples=200)
    names = {p.name for p in res.files}
    assert "mushra_conditions.pdf" in names and "mushra_vs_bitrate.pdf" not in names
    table = (tmp_path / "r" / "mushra_table.md").read_text()
    assert table.index("| C1 |") < table.index("| C2 |") < table.index("| C10 |") < table.index("anchor 3.5")
    page = res.html.read_text()
    assert "No BD-rate" in page and "highest-rated codec condition <b>C10</b>" in page
