"""webMUSHRA exports (old and current formats), any row order, raters by their own ids, conditions without a
bitrate kept; analyze writes a full report from them."""

import warnings

import numpy as np
import pandas as pd
import pytest

from harness.analysis.load import RatingsError, load_ratings
from harness.analysis.report import analyze

STIMULI = ("reference", "anchor35", "anchor70", "C1", "C2", "opus_12kbps", "opus_24kbps")
QUALITY = {"reference": 98, "anchor35": 20, "anchor70": 45, "C1": 55, "C2": 75, "opus_12kbps": 60,
           "opus_24kbps": 85}


def _export(*, current: bool, n: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        bias = rng.normal(0, 6)
        for trial in ("trial1", "trial2", "trial3"):
            for stim in STIMULI:
                score = int(np.clip(round(QUALITY[stim] + bias + rng.normal(0, 6)), 0, 100))
                row = {"session_test_id": "codec_test", "email": f"listener{k}@example.org", "age": 30 + k,
                       "gender": "na"}
                if current:
                    row["session_uuid"] = f"uuid-{k:04d}"
                row.update(trial_id=trial, rating_stimulus=stim, rating_score=score, rating_time=9000 + k,
                           rating_comment="")
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("current", [False, True])
def test_rater_ids_come_from_the_file_in_any_row_order(tmp_path, current):
    df = _export(current=current)
    shuffled = df.sample(frac=1.0, random_state=3)
    by_trial = df.sort_values(["trial_id", "rating_stimulus"])
    loaded = [load_ratings(d) for d in (df, shuffled, by_trial)]
    want = {f"uuid-{k:04d}" if current else f"listener{k}@example.org" for k in range(8)}
    for frame in loaded:
        assert set(frame["rater"]) == want
        assert frame.groupby("rater").size().eq(21).all()
    a, b = (f.groupby(["rater", "condition"])["score"].mean() for f in loaded[:2])
    pd.testing.assert_series_equal(a, b.reindex(a.index))
    if current:
        assert set(loaded[0]["participant_email"]) == {f"listener{k}@example.org" for k in range(8)}


def test_rater_column_override_and_errors(tmp_path):
    df = _export(current=False).drop(columns="email")
    with pytest.raises(RatingsError, match="rater-column"):
        load_ratings(df)
    got = load_ratings(df.assign(prolific=[f"P{i // 21}" for i in range(len(df))]), rater_column="prolific")
    assert got["rater"].nunique() == 8
    with pytest.raises(RatingsError, match="no column 'nope'"):
        load_ratings(df, rater_column="nope")


def test_conditions_without_bitrate_never_vanish_or_crash(tmp_path):
    p = tmp_path / "mushra.csv"
    _export(current=True).to_csv(p, index=False)
    frame = load_ratings(p)
    c1 = frame[frame["condition"] == "C1"].iloc[0]
    assert c1["kind"] == "codec" and np.isnan(c1["kbps"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(p, out_dir=tmp_path / "report")
    summ = pd.read_csv(tmp_path / "report" / "summary_conditions.csv")
    assert {"C1", "C2", "opus_12kbps", "opus_24kbps", "reference", "lp3.5", "lp7"} <= set(summ["condition"])
    assert summ[["ci_low", "ci_high"]].notna().all().all()
    scr = pd.read_csv(tmp_path / "report" / "screening.csv")
    assert set(scr["rater"]) == {f"uuid-{k:04d}" for k in range(8)}
    assert "participant_email" in scr.columns
    html = res.html.read_text()
    assert "C1" in html and "C2" in html and "uuid-0003" in html


def test_file_without_any_bitrate_analyses_to_a_full_report(tmp_path):
    df = _export(current=True)
    df = df[~df["rating_stimulus"].str.startswith("opus")]
    p = tmp_path / "mushra.csv"
    df.to_csv(p, index=False)
    from harness.cli import main

    assert main(["analyze", "--ratings", str(p), "--out", str(tmp_path / "r"), "--items", "random",
                 "--baseline", "C1"]) == 0
    summ = pd.read_csv(tmp_path / "r" / "summary_conditions.csv")
    assert {"C1", "C2"} <= set(summ["condition"]) and summ["ci_method"].str.contains("two-way").all()
    pc = pd.read_csv(tmp_path / "r" / "paired_comparisons.csv")
    assert set(pc["b"]) == {"C1"}
    assert "C2" in (tmp_path / "r" / "report.html").read_text()
