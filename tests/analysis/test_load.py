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


def test_webmushra_without_uuid_splits_sessions():
    rows = [{"session_test_id": "t", "trial_id": tr, "rating_stimulus": st, "rating_score": 50}
            for _ in range(3) for tr in ("a", "b") for st in ("reference", "x_6")]
    df = load_ratings(pd.DataFrame(rows))
    assert df["rater"].nunique() == 3


def test_bad_ratings_give_clear_errors(tmp_path):
    with pytest.raises(RatingsError, match="missing column"):
        load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"]}))
    with pytest.raises(RatingsError, match="outside 0..100"):
        load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"], "condition": ["c"], "score": [130]}))
    with pytest.raises(RatingsError, match="not found"):
        load_ratings(tmp_path / "nope.csv")
    df = load_ratings(pd.DataFrame({"rater": ["a"], "item": ["i"], "condition": ["lp7"], "score": [np.int64(3)]}))
    assert df.loc[0, "kind"] == "anchor" and df.loc[0, "category"] == "all"
