"""Coverage of 95 % interval methods on simulated clustered MUSHRA studies (issue 13).

Each scenario simulates studies with rater offsets, rater-by-condition slopes, item and item-by-condition effects
and clipping/rounding to 0..100 (harness.analysis.synthetic.clustered_study), and prints for every interval method
its coverage of the true value of its estimand, the Monte-Carlo SE, and the mean half-width. Target for the
default (rater-cluster t): 95 % +- 2 %.

Run: .venv/bin/python benchmarks/bench_coverage.py [--studies 1000] [--slow-studies 100] [--mixedlm-studies 30]
(the bootstrap methods run on --slow-studies, statsmodels MixedLM on --mixedlm-studies: ~1 s per study).
"""

from __future__ import annotations

import argparse
import time

from harness.analysis.coverage import METHODS, coverage
from harness.analysis.synthetic import clustered_study

SCENARIOS = {
    "20 raters x 8 items (issue 13)": dict(n_raters=20, n_items=8),
    "8 raters x 6 items": dict(n_raters=8, n_items=6),
    "20 x 8, near the ceiling": dict(n_raters=20, n_items=8, condition_means=(70, 85, 92, 97, 99)),
    "12 raters x 30 items": dict(n_raters=12, n_items=30),
    "40 raters x 4 items, strong slopes": dict(n_raters=40, n_items=4, sd_rater_condition=12.0),
    "40 raters x 12 items, 4 each (crowd subsets)": dict(n_raters=40, n_items=12, items_per_rater=4),
}
SLOW = {"per-rating BCa bootstrap", "rater bootstrap (percentile)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--studies", type=int, default=1000, help="studies per scenario (fast methods)")
    ap.add_argument("--slow-studies", type=int, default=100, help="studies for the bootstrap methods")
    ap.add_argument("--mixedlm-studies", type=int, default=30, help="studies for MixedLM (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    ok = True
    for si, (name, kw) in enumerate(SCENARIOS.items()):
        ratings, truth = clustered_study(n_studies=args.studies, seed=args.seed + si, **kw)
        print(f"\n{name}: {args.studies} studies, {len(ratings):,} ratings")
        print(f"  {'method':<38s} {'coverage':>9s} {'MC SE':>7s} {'half-width':>10s} {'intervals':>9s}")
        for m in METHODS:
            n = args.mixedlm_studies if m.startswith("MixedLM") else args.slow_studies if m in SLOW else args.studies
            if n <= 0:
                continue
            sub = ratings[ratings["category"].isin({f"s{k}" for k in range(n)})] if n < args.studies else ratings
            c = coverage(sub, truth, m, seed=args.seed)
            flag = ""
            if m.startswith("rater-cluster t"):
                good = abs(c["coverage"] - 0.95) <= 0.02
                ok &= good
                flag = "  PASS (95 +- 2 %)" if good else "  FAIL (95 +- 2 %)"
            print(f"  {m:<38s} {100 * c['coverage']:8.1f}% {100 * c['mc_se']:6.1f}% {c['mean_half_width']:10.2f} "
                  f"{c['n_intervals']:9d}{flag}")
    print(f"\ndefault interval within 95 +- 2 % in every scenario: {'yes' if ok else 'NO'} "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
