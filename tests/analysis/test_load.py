import numpy as np
import pandas as pd
import pytest

from harness.analysis.load import COLUMNS, RatingsError, load_ratings
from harness.analysis.synthetic import synthetic_ratings


def test_csv_export_round_trip(tmp_path):
    df = synthetic_ratings(n_raters=2, n_items=2)
    p = tmp_path / "ratings.csv"
    df.to_csv(p, index=False)
    back = load_ratings(p)
    assert list(back.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(back) == len(df) and back["score"].sum() == df["score"].sum()
    assert back.loc[back["kind"] == "reference", "codec"].isna().all()


def test_webmushra_csv_is_mapped(tmp_path):
    rows = []
    for session in ("s1", "s2"):
        for trial in ("trial1", "trial2"):
            for stim, score in (("reference", 100), ("anchor35", 20), ("anchor70", 45), ("opus_12", 70)):
                rows.append({"session_test_id": "test", "session_uuid": session, "email": "", "trial_id": trial,
                             "rating_stimulus": stim, "rating_score": score, "rating_time": 12000,
                             "rating_comment": ""})
    p = tmp_path / "mushra.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    df = load_ratings(p)
    assert set(df["condition"]) == {"reference", "lp3.5", "lp7", "opus_12"}
    assert set(df["rater"]) == {"s1", "s2"}
    codec = df[df["condition"] == "opus_12"].iloc[0]
    assert codec["kind"] == "codec" and codec["codec"] == "opus" and codec["kbps"] == 12.0
    assert (df.loc[df["condition"] == "lp7", "kind"] == "anchor").all()


def test_webmushra_without_any_rater_identity_is_a_clear_error_not_row_order():
    rows = [{"session_test_id": "t", "trial_id": tr, "rating_stimulus": st, "rating_score": 50}
            for _ in range(3) for tr in ("a", "b") for st in ("reference", "x_6")]
    with pytest.raises(RatingsError, match="row order"):
        load_ratings(pd.DataFrame(rows))


def test_bad_ratings_give_clear_errors(tmp_path):
    with pytest.raises(RatingsError, match="missing column"):
        load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"]}))
    with pytest.raises(RatingsError, match="outside 0..100"):
        load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"], "condition": ["c"], "score": [130]}))
    with pytest.raises(RatingsError, match="not found"):
        load_ratings(tmp_path / "nope.csv")
    df = load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"], "condition": ["lp7"], "score": [np.int64(3)]}))
    assert df.loc[0, "kind"] == "anchor" and df.loc[0, "category"] == "all"


def test_attach_manifest_fills_codec_bitrate_and_category():
    from harness.analysis.load import attach_manifest
    from harness.manifest import ConditionRecord, ItemRecord, Manifest, StimulusRecord

    def stim(item, cond, kind, measured=None):
        return StimulusRecord(item=item, condition=cond, kind=kind, path="x.wav", sha256="", loudness_lufs=-23.0,
                              gain_db=0.0, codec="opus" if kind == "codec" else None,
                              nominal_kbps=6.0 if kind == "codec" else None, measured_kbps=measured)

    m = Manifest(study_name="t", study_hash="h", sample_rate=48000, channels=1, loudness_target_lufs=-23.0,
                 items=(ItemRecord("a", "speech", "a.wav", "a.wav", 5.0),
                        ItemRecord("b", "music", "b.wav", "b.wav", 5.0)),
                 conditions=(ConditionRecord("reference", "reference"),
                             ConditionRecord("opus_6", "codec", "opus", 6.0)),
                 stimuli=(stim("a", "reference", "reference"), stim("b", "reference", "reference"),
                          stim("a", "opus_6", "codec", 5.8), stim("b", "opus_6", "codec", 6.3)))
    df = load_ratings(pd.DataFrame({"rater": ["r"] * 4, "item": ["a", "a", "b", "b"],
                                    "condition": ["reference", "opus_6"] * 2, "score": [100, 50, 95, 60]}))
    out = attach_manifest(df, m).set_index(["item", "condition"])
    assert out.loc[("a", "opus_6"), "codec"] == "opus" and out.loc[("a", "opus_6"), "kbps"] == 6.0
    assert out.loc[("a", "opus_6"), "measured_kbps"] == 5.8 and out.loc[("b", "opus_6"), "measured_kbps"] == 6.3
    assert out.loc[("b", "reference"), "category"] == "music" and out.loc[("a", "reference"), "kind"] == "reference"
