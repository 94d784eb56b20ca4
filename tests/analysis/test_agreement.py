"""Metric-listener agreement: correlations with bootstrap intervals at condition and stimulus level, per category,
orientation of lower-is-better metrics, domain warnings, the plain verdict sentence."""

import numpy as np
import pandas as pd

from harness.analysis import agreement as A


def _study(seed=0):
    rng = np.random.default_rng(seed)
    conds = {"o@6": 35, "o@12": 60, "o@24": 80, "n@6": 50, "n@12": 70}
    ratings, rows = [], []
    for cat in ("speech", "music"):
        for i in range(6):
            item = f"{cat}{i}"
            eff = rng.normal(0, 5)
            for c, q in conds.items():
                for r in range(8):
                    ratings.append({"rater": f"r{r}", "item": item, "condition": c, "category": cat,
                                    "score": q + eff + rng.normal(0, 8)})
                good = q + eff  # a metric that tracks listeners, one that is noise, a distance (lower better)
                rows += [{"metric": "pesq", "item": item, "condition": c, "value": 1 + good / 25},
                         {"metric": "noise", "item": item, "condition": c, "value": rng.normal()},
                         {"metric": "mel", "item": item, "condition": c, "value": 3 - good / 40}]
    return pd.DataFrame(ratings), pd.DataFrame(rows)


def test_agreement_table_points_and_verdict():
    ratings, rows = _study()
    table, points = A.agreement_table(ratings, rows, n_resamples=300)
    assert set(table["level"]) == {"condition", "stimulus"}
    assert set(table["category"]) == {"speech", "music", "all"}
    pesq = table[(table["metric"] == "pesq") & (table["level"] == "condition") & (table["category"] == "all")]
    assert pesq["n"].iloc[0] == 5 and pesq["spearman"].iloc[0] > 0.8
    stim = table[(table["metric"] == "pesq") & (table["level"] == "stimulus") & (table["category"] == "all")]
    assert stim["n"].iloc[0] == 60
    r = stim.iloc[0]
    for m in A.METHODS:
        assert r[f"{m}_low"] <= r[m] <= r[f"{m}_high"]
    mel = table[(table["metric"] == "mel") & (table["level"] == "stimulus") & (table["category"] == "all")]
    assert mel["pearson"].iloc[0] > 0.5  # lower-is-better metric oriented: positive = agrees
    noise = table[(table["metric"] == "noise") & (table["level"] == "stimulus") & (table["category"] == "all")]
    assert noise["pearson_low"].iloc[0] < 0 < noise["pearson_high"].iloc[0]
    # pesq on music is outside its domain, and the sentence says so
    assert "speech/mixed metric used on music" in table[table["metric"] == "pesq"]["domain"].iloc[0]
    text = A.verdict(table, names={"pesq": "PESQ"})
    assert text.startswith("On this study ") and "pesq is a speech/mixed metric used on music" in text
    assert set(points) == {"pesq", "noise", "mel"}
    assert set(points["pesq"]["category"]) == {"speech", "music"} and (points["pesq"]["n_items"] == 6).all()


def test_failed_cells_are_counted_not_filled():
    ratings, rows = _study()
    rows.loc[(rows["metric"] == "pesq") & (rows["item"] == "music0"), "value"] = np.nan
    table, _ = A.agreement_table(ratings, rows, n_resamples=50)
    t = table[(table["metric"] == "pesq") & (table["category"] == "music") & (table["level"] == "stimulus")]
    assert t["n"].iloc[0] == 25 and t["n_failed"].iloc[0] == 5


def test_no_shared_conditions_gives_a_clear_sentence():
    ratings, rows = _study()
    table, _ = A.agreement_table(ratings, rows.assign(condition="x"), n_resamples=50)
    assert "fewer than 3 conditions" in A.verdict(table)


def test_vectorised_kendall_bootstrap_equals_scipy_tau_b():
    from scipy import stats as sst

    rng = np.random.default_rng(5)
    x, y = np.round(rng.normal(size=30), 1), np.round(rng.normal(size=30), 1)  # with ties
    idx = rng.integers(0, 30, size=(40, 30))
    got = A._boot_kendall(x, y, idx)
    want = [sst.kendalltau(x[i], y[i]).statistic for i in idx]
    np.testing.assert_allclose(got, want, atol=1e-12)
