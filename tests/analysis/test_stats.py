import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from harness.analysis import stats as S
from harness.analysis.synthetic import synthetic_ratings


def test_t_interval_hand_computed():
    x = np.array([60.0, 70.0, 80.0, 90.0])
    lo, hi = S.t_interval(x)
    h = sst.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2  # sqrt(4) = 2
    assert (lo, hi) == pytest.approx((75 - h, 75 + h))
    assert math.isnan(S.t_interval(np.array([5.0]))[0])


def test_holm_against_hand_computed_case():
    # sorted p: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert S.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = S.holm([np.nan, 0.01, 0.02])
    assert math.isnan(out[0]) and out[1:] == pytest.approx([0.02, 0.02])


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_bootstrap_coverage_by_simulation(method):
    rng = np.random.default_rng(123)
    hits, n_sets = 0, 300
    for i in range(n_sets):  # skewed, slider-like integer scores with a known mean
        x = np.minimum(100, np.round(rng.exponential(20.0, 40)))
        lo, hi = S.bootstrap_interval(x, n_resamples=1000, seed=i, method=method)
        hits += lo <= TRUE_MEAN <= hi
    coverage = hits / n_sets
    assert 0.90 <= coverage <= 0.99, coverage


# mean of min(100, round(Exp(20))): computed exactly from the distribution
_k = np.arange(0, 101)
_p = np.exp(-np.maximum(_k - 0.5, 0) / 20) - np.exp(-(_k + 0.5) / 20)
_p[-1] = np.exp(-99.5 / 20)
TRUE_MEAN = float(_k @ _p)


def test_bootstrap_is_seeded_and_exact_for_constant():
    x = np.arange(50, dtype=float)
    assert S.bootstrap_interval(x, seed=1) == S.bootstrap_interval(x, seed=1)
    assert S.bootstrap_interval(np.full(10, 7.0)) == (7.0, 7.0)
    with pytest.raises(ValueError):
        S.bootstrap_interval(x, method="magic")


def test_summaries_columns_and_counts():
    df = synthetic_ratings(n_raters=8, n_items=4, seed=2)
    s = S.summarize(df, ("condition",), n_resamples=500)
    ref = s.set_index("condition").loc["reference"]
    assert ref["n_raters"] == 8 and ref["n_ratings"] == 32
    assert ref["ci_t_low"] < ref["mean"] < ref["ci_t_high"]
    assert ref["ci_boot_low"] <= ref["mean"] <= ref["ci_boot_high"]
    assert ref["q1"] <= ref["median"] <= ref["q3"] and ref["iqr"] == pytest.approx(ref["q3"] - ref["q1"])
    cb = S.by_codec_bitrate(df, n_resamples=200)
    assert set(cb["codec"]) == {"opus", "lyra", "encodec_24khz"}
    assert {"measured_kbps", "kbps"} <= set(cb.columns)
    items = S.per_item(df)
    assert len(items) == 4 * df["condition"].nunique()


def test_paired_comparisons_find_real_differences_only():
    rng = np.random.default_rng(0)
    rows = []
    for r in range(15):
        for i in range(4):
            base = rng.normal(60, 5)
            rows += [{"rater": f"r{r}", "item": f"i{i}", "condition": "a", "score": base + 15},
                     {"rater": f"r{r}", "item": f"i{i}", "condition": "b", "score": base + rng.normal(0, 3)},
                     {"rater": f"r{r}", "item": f"i{i}", "condition": "c", "score": base + rng.normal(0, 3)}]
    pc = S.paired_comparisons(pd.DataFrame(rows)).set_index(["a", "b"])
    assert pc.loc[("a", "b"), "significant"] and pc.loc[("a", "c"), "significant"]
    assert not pc.loc[("b", "c"), "significant"]
    assert (pc["w_p_holm"] >= pc["w_p"]).all() and (pc["t_p_holm"] >= pc["t_p"]).all()
    assert pc.loc[("a", "b"), "mean_diff"] == pytest.approx(15, abs=2)


def test_live_summary():
    df = synthetic_ratings(n_raters=3, n_items=2, seed=0)
    live = S.live_summary(df)
    assert live.iloc[0]["condition"] == "reference"
    assert list(live.columns) == ["condition", "kind", "n_ratings", "n_raters", "mean", "ci_low", "ci_high",
                                  "ci_t_low", "ci_t_high", "median"]
    assert (live["ci_high"] - live["ci_low"] >= 0).all()
    assert S.live_summary(df.iloc[:0]).empty


def test_both_exact_resamplers_match_theory():
    rng = np.random.default_rng(5)
    few = rng.integers(0, 10, 400).astype(float)  # 10 distinct values: multinomial path
    many = few + rng.uniform(0, 1e-6, few.size)  # all distinct: index path
    for x in (few, many):
        boot = S.bootstrap_means(x, n_resamples=4000, rng=np.random.default_rng(0))
        assert boot.mean() == pytest.approx(x.mean(), abs=0.02)
        assert boot.std() == pytest.approx(x.std() / np.sqrt(x.size), rel=0.06)  # plug-in SE of the mean
