"""Fast version of benchmarks/bench_coverage.py: the default interval covers 95 % on clustered studies."""

from harness.analysis.coverage import coverage
from harness.analysis.synthetic import clipped_normal_mean, clustered_study


def test_clipped_normal_mean_matches_simulation():
    import numpy as np

    x = np.random.default_rng(0).normal(90, 12, 400_000)
    assert abs(float(clipped_normal_mean(90, 12)) - np.clip(x, 0, 100).mean()) < 0.05


def test_default_interval_covers_95_percent_on_clustered_studies():
    ratings, truth = clustered_study(n_raters=20, n_items=8, n_studies=250, seed=11)
    default = coverage(ratings, truth, "rater-cluster t (default)")
    per_rating = coverage(ratings, truth, "per-rating t (BS.1534-3)")
    assert default["n_intervals"] == 250 * 6
    # MC SE ~0.6 %; the per-rating interval is far too narrow on the same data
    assert 0.93 <= default["coverage"] <= 0.97, default
    assert per_rating["coverage"] < 0.85, per_rating
    assert per_rating["mean_half_width"] < default["mean_half_width"]


def test_items_random_interval_covers_the_population_mean():
    ratings, truth = clustered_study(n_raters=15, n_items=12, n_studies=250, seed=12)
    two_way = coverage(ratings, truth, "two-way cluster t (--items random)")
    fixed_vs_random = coverage(ratings, truth.assign(true_fixed=truth["true_random"]), "rater-cluster t (default)")
    assert 0.92 <= two_way["coverage"] <= 0.975, two_way
    assert fixed_vs_random["coverage"] < two_way["coverage"] - 0.03  # the items-fixed interval does not claim this


def test_default_interval_covers_when_raters_rate_subsets_of_items():
    ratings, truth = clustered_study(n_raters=30, n_items=10, items_per_rater=3, n_studies=250, seed=13)
    assert ratings.groupby("rater")["item"].nunique().eq(3).all()
    default = coverage(ratings, truth, "rater-cluster t (default)")
    assert 0.93 <= default["coverage"] <= 0.97, default
