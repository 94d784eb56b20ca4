"""Screening + statistics on 1,000,000 synthetic ratings (target: under 10 s on 2 cores).

Run: .venv/bin/python benchmarks/bench_analysis.py [--ratings 1000000]
Prints the wall time of each step and the total wall and CPU time; the bootstrap uses the full 10,000
resamples (BCa). The target applies to an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time

from harness.analysis import screening, stats
from harness.analysis.synthetic import synthetic_ratings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ratings", type=int, default=1_000_000)
    args = ap.parse_args()
    n_items, n_conds = 50, 14  # 3 + 11 codec conditions in the default synthetic ladder
    n_raters = max(1, round(args.ratings / (n_items * n_conds)))
    df = synthetic_ratings(n_raters=n_raters, n_items=n_items, categories=("speech", "music", "mixed"), seed=0)
    print(f"{len(df):,} ratings: {n_raters} raters x {n_items} items x {df['condition'].nunique()} conditions")
    steps = {}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    table = screening.screen(df, "bs1534")
    steps["screening (bs1534 + telemetry)"] = time.perf_counter() - t0
    t = time.perf_counter()
    kept = screening.kept(df, table)
    steps["drop excluded raters"] = time.perf_counter() - t
    t = time.perf_counter()
    by_cond = stats.summarize(kept, ("condition",))
    steps["per condition: mean, t CI, BCa bootstrap 10k, median/IQR"] = time.perf_counter() - t
    t = time.perf_counter()
    by_codec = stats.by_codec_bitrate(kept, per_category=True)
    steps["per (category, codec, kbps), bootstrap 10k"] = time.perf_counter() - t
    t = time.perf_counter()
    stats.paired_comparisons(kept)
    steps["paired comparisons (Wilcoxon + t, Holm)"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    for k, v in steps.items():
        print(f"  {k:<58s} {v:6.2f} s")
    print(f"total {total:.2f} s wall, {cpu:.2f} s CPU (wall counts other load on the machine)")
    print(f"  {len(df):,} ratings, {int(table['excluded'].sum())} raters excluded, {len(by_cond)} conditions, "
          f"{len(by_codec)} codec x bitrate x category cells -> wall {'PASS' if total < 10 else 'FAIL'}, "
          f"CPU {'PASS' if cpu < 10 else 'FAIL'} (< 10 s)")


if __name__ == "__main__":
    main()
