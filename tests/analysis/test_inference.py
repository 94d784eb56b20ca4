"""harness.inference: rater-aware summaries, contrasts, p-value printing (golden values from scipy)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from harness.analysis.synthetic import clustered_study
from harness.inference import (InferenceError, format_p, paired_contrasts, rater_aware_summary,
                               variance_components)


def _study(seed=0, **kw):
    r, _ = clustered_study(n_raters=kw.pop("n_raters", 12), n_items=kw.pop("n_items", 5), seed=seed, **kw)
    return r.assign(category="all")


def test_complete_design_equals_t_over_per_rater_means():
    df = _study()
    s = rater_aware_summary(df).set_index("condition")
    pm = df[df["condition"] == "c2"].groupby("rater")["score"].mean()
    lo, hi = sst.t.interval(0.95, pm.size - 1, loc=pm.mean(), scale=pm.std(ddof=1) / math.sqrt(pm.size))
    assert s.loc["c2", "mean"] == pytest.approx(pm.mean())
    assert (s.loc["c2", "ci_low"], s.loc["c2", "ci_high"]) == pytest.approx((lo, hi))
    assert s.loc["c2", "n_raters"] == 12 and s.loc["c2", "n_items"] == 5 and s.loc["c2", "n_ratings"] == 60


def test_rows_in_any_order_give_the_same_answer_and_groups_with_nan_keys_survive():
    df = _study(seed=3)
    a = rater_aware_summary(df)
    b = rater_aware_summary(df.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a, b)
    g = rater_aware_summary(df.assign(kbps=np.where(df["condition"] == "c0", np.nan, 6.0)),
                            by=("category", "condition", "kbps"))
    assert len(g) == 6 and g["kbps"].isna().sum() == 1


def test_unbalanced_estimate_weights_items_equally():
    df = _study(seed=4)
    drop = df[(df["item"] == df["item"].iloc[0]) & (df["rater"].isin(df["rater"].unique()[:6]))].index
    s = rater_aware_summary(df.drop(drop)).set_index("condition")
    kept = df.drop(drop)
    m = kept.groupby(["condition", "item"])["score"].mean().groupby("condition").mean()
    assert s["mean"].to_numpy() == pytest.approx(m.reindex(s.index).to_numpy())
    assert (s["ci_high"] > s["ci_low"]).all()


def test_one_rater_gives_no_interval_and_bad_input_is_explained():
    df = _study()
    one = rater_aware_summary(df[df["rater"] == df["rater"].iloc[0]])
    assert one["ci_low"].isna().all() and one["mean"].notna().all()
    with pytest.raises(InferenceError, match="rater"):
        rater_aware_summary(df.drop(columns="rater"))
    with pytest.raises(InferenceError, match="fixed"):
        rater_aware_summary(df, items="sometimes")


def test_contrasts_equal_paired_t_and_holm_is_monotone():
    df = _study(seed=5, n_raters=15)
    c = paired_contrasts(df).set_index(["a", "b"])
    pm = df.pivot_table(index="rater", columns="condition", values="score", aggfunc="mean")
    t = sst.ttest_rel(pm["c1"], pm["c2"])
    assert c.loc[("c1", "c2"), "p"] == pytest.approx(t.pvalue)
    assert c.loc[("c1", "c2"), "mean_diff"] == pytest.approx((pm["c1"] - pm["c2"]).mean())
    d = pm["c1"] - pm["c2"]
    assert c.loc[("c1", "c2"), "effect_size_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert (c["p_holm"] >= c["p"]).all() and len(c) == 15
    base = paired_contrasts(df, baseline="c5")
    assert len(base) == 5 and set(base["b"]) == {"c5"}
    with pytest.raises(InferenceError, match="baseline"):
        paired_contrasts(df, baseline="nope")


def test_format_p_never_prints_zero():
    assert format_p(0.0) == "< 1e-4" and format_p(3e-9) == "< 1e-4"
    assert format_p(0.01234) == "0.0123" and format_p(1.0) == "1.0000" and format_p(float("nan")) == "-"


def test_variance_components_recover_the_simulation():
    r, _ = clustered_study(n_raters=60, n_items=20, condition_means=(40, 50, 55, 60, 65, 70), sd_rater=8,
                           sd_rater_condition=6, sd_item=6, sd_item_condition=4, sd_residual=10, seed=9)
    vc = variance_components(r)
    assert vc.rater == pytest.approx(8, abs=2.0) and vc.rater_condition == pytest.approx(6, abs=1.0)
    assert vc.residual == pytest.approx(10, abs=0.5) and vc.item == pytest.approx(6, abs=2.5)
    assert vc.n_raters == 60 and vc.n_items == 20


def test_inference_imports_neither_the_analysis_nor_the_web_test():
    """The web test's adaptive steering imports harness.inference; it must not pull in either side."""
    import ast
    from pathlib import Path

    import harness.inference

    for path in Path(harness.inference.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = [n for n in names if n.startswith(("harness.analysis", "harness.webtest"))]
            assert not bad, f"{path.name} imports {bad}"


def test_an_item_rated_once_gives_no_interval_instead_of_a_too_narrow_one():
    """One rating of an item carries no spread: counting it as zero variance made the interval narrower when a
    rater with a single rating joined (9.5 -> 5.9 points); now the interval is NaN until every item has 2 raters."""
    rng = np.random.default_rng(0)
    rows = [{"rater": f"r{r}", "item": i, "condition": "c", "score": 50 + 10 * rng.normal()}
            for r in range(5) for i in ("a", "b")]
    full = rater_aware_summary(pd.DataFrame(rows))
    assert np.isfinite(full["half_width"].iloc[0])
    rows.append({"rater": "r9", "item": "z", "condition": "c", "score": 70.0})
    one = rater_aware_summary(pd.DataFrame(rows))
    assert np.isnan(one["half_width"].iloc[0]) and np.isnan(one["ci_low"].iloc[0])
