"""BD-rate / BD-quality (VCEG-M33): worked examples with exact answers, and the cluster bootstrap."""

import math

import numpy as np
import pandas as pd
import pytest

from harness.analysis import bdrate


def _q(rate, saving=0.0, offset=0.0):
    """Quality linear in log2 rate: q = 20 log2(r / (1 - saving)) + 10 + offset."""
    return 20 * np.log2(np.asarray(rate) / (1 - saving)) + 10 + offset


@pytest.mark.parametrize("interp", bdrate.INTERPOLATIONS)
def test_worked_example_exact_bit_saving(interp):
    # the test codec reaches every quality with exactly 30 % fewer bits, sampled at *different* rates
    base_r = np.array([6.0, 12.0, 24.0, 48.0])
    test_r = np.array([5.0, 9.0, 17.0, 30.0])
    got = bdrate.bd_rate(baseline_rate=base_r, baseline_quality=_q(base_r), test_rate=test_r,
                         test_quality=_q(test_r, saving=0.3), interpolation=interp)
    assert got == pytest.approx(-30.0, abs=1e-9)
    # and the BD-quality of that curve: 20 log2(1/0.7) points at equal rate
    bq = bdrate.bd_quality(baseline_rate=base_r, baseline_quality=_q(base_r), test_rate=test_r,
                           test_quality=_q(test_r, saving=0.3), interpolation=interp)
    assert bq == pytest.approx(20 * math.log2(1 / 0.7), abs=1e-9)


@pytest.mark.parametrize("interp", bdrate.INTERPOLATIONS)
def test_scaled_rates_of_a_curved_ladder_give_the_scale(interp):
    # any curve (here concave, saturating), every rate x 1.25: BD-rate = +25 % exactly; swap: -20 %
    r = np.array([3.0, 6.0, 12.0, 24.0, 48.0])
    q = np.array([20.0, 41.0, 60.0, 74.0, 81.0])
    assert bdrate.bd_rate(baseline_rate=r, baseline_quality=q, test_rate=1.25 * r, test_quality=q,
                          interpolation=interp) == pytest.approx(25.0, abs=1e-9)
    assert bdrate.bd_rate(baseline_rate=1.25 * r, baseline_quality=q, test_rate=r, test_quality=q,
                          interpolation=interp) == pytest.approx(-20.0, abs=1e-9)


def test_pchip_and_polynomial_differ_on_a_curved_ladder():
    r = np.array([6.0, 12.0, 24.0, 48.0])
    a = bdrate.bd_rate(baseline_rate=r, baseline_quality=[30, 60, 75, 80], test_rate=r,
                       test_quality=[40, 62, 76, 90], interpolation="pchip")
    b = bdrate.bd_rate(baseline_rate=r, baseline_quality=[30, 60, 75, 80], test_rate=r,
                       test_quality=[40, 62, 76, 90], interpolation="cubic")
    assert a < 0 and b < 0 and abs(a - b) > 0.1


def test_clear_errors():
    with pytest.raises(bdrate.BDRateError, match="do not overlap"):
        bdrate.bd_rate(baseline_rate=[6, 12], baseline_quality=[10, 20], test_rate=[6, 12], test_quality=[30, 40])
    with pytest.raises(bdrate.BDRateError, match="does not rise"):
        bdrate.bd_rate(baseline_rate=[6, 12, 24], baseline_quality=[10, 30, 20], test_rate=[6, 12],
                       test_quality=[15, 25])
    with pytest.raises(bdrate.BDRateError, match="at least 2"):
        bdrate.bd_rate(baseline_rate=[6], baseline_quality=[10], test_rate=[6, 12], test_quality=[15, 25])


def _ratings(n_raters=16, saving=0.3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_raters):
        off = rng.normal(0, 5)
        for codec, ladder, s in (("opus", (6, 12, 24, 48), 0.0), ("new", (4, 8, 16, 32), saving)):
            for k in ladder:
                for item in range(3):
                    rows.append({"rater": f"r{r}", "item": f"i{item}", "category": "speech", "codec": codec,
                                 "kbps": float(k), "measured_kbps": k * 1.01,
                                 "score": float(_q(k, s) + off + rng.normal(0, 4))})
    return pd.DataFrame(rows)


def test_bd_table_recovers_the_saving_with_a_rater_bootstrap_interval():
    t = bdrate.bd_table(_ratings(), value="score", cluster="rater", n_resamples=300)
    row = t.iloc[0]
    assert (row["baseline"], row["codec"], row["resample_unit"], row["rate_basis"]) == (
        "opus", "new", "rater", "measured")
    assert row["bd_rate_low"] < row["bd_rate_pct"] < row["bd_rate_high"]
    assert row["bd_rate_high"] - row["bd_rate_low"] < 10
    assert row["bd_quality_low"] > 0 and row["n_clusters"] == 16


def test_rater_bootstrap_interval_covers_the_true_saving():
    # 100 simulated studies (16 raters with personal offsets): the 95 % interval covers -30 % about 93 % of
    # the time (200 runs: 0.93; the percentile bootstrap is a little narrow with few raters)
    hits = 0
    for s in range(100):
        r = bdrate.bd_table(_ratings(seed=100 + s), value="score", cluster="rater", n_resamples=400).iloc[0]
        hits += r["bd_rate_low"] < -30 < r["bd_rate_high"]
    assert 85 <= hits <= 99


def test_bd_table_lower_is_better_metric_keeps_its_sign():
    d = _ratings().assign(score=lambda f: -f["score"])  # e.g. a distance
    t = bdrate.bd_table(d, value="score", cluster="item", n_resamples=100, higher_is_better=False)
    assert t.iloc[0]["bd_rate_pct"] < -20 and t.iloc[0]["bd_quality"] < 0  # lower distance at equal rate


def test_vectorised_pchip_integral_matches_scipy():
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng(3)
    for n in (2, 3, 4, 6):
        x = np.sort(rng.uniform(0, 10, (20, n)), axis=1)
        y = rng.normal(0, 5, (20, n))
        lo = x[:, 0] + rng.uniform(0, 1, 20) * (x[:, -1] - x[:, 0]) / 2
        hi = x[:, -1] - rng.uniform(0, 1, 20) * (x[:, -1] - x[:, 0]) / 3
        got = bdrate._pchip_integral(x, y, lo, hi)
        want = [PchipInterpolator(x[i], y[i]).integrate(lo[i], hi[i]) for i in range(20)]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_saturating_curve_is_pooled_not_refused():
    # MUSHRA saturates near the reference: 92.6 at 24 kbps, 91.1 at 48 kbps. Strict VCEG-M33 refuses it;
    # the table pools (isotonic) and says so, and the bootstrap keeps every replicate
    r = np.array([6.0, 12.0, 24.0, 48.0])
    with pytest.raises(bdrate.BDRateError, match="isotonic"):
        bdrate.bd_rate(baseline_rate=r, baseline_quality=[61, 77, 92.6, 91.1], test_rate=r,
                       test_quality=[70, 85, 93, 94])
    got = bdrate.bd_rate(baseline_rate=r, baseline_quality=[61, 77, 92.6, 91.1], test_rate=r,
                         test_quality=[70, 85, 93, 94], monotone="isotonic")
    assert -60 < got < 0
    np.testing.assert_allclose(bdrate._pav(np.array([1, 3, 2, 4.0])), [1, 2.5, 2.5, 4])
    d = _ratings()
    d.loc[(d["codec"] == "opus") & (d["kbps"] == 48), "score"] -= 25  # opus falls at its top rate
    t = bdrate.bd_table(d, value="score", cluster="rater", n_resamples=200)
    row = t.iloc[0]
    assert np.isfinite(row["bd_rate_pct"]) and row["replicates_used"] == 200 and "isotonic" in row["note"]
