"""Screening + statistics, and the whole report, on 1,000,000 synthetic ratings (issue 13 targets on 2 cores:
screening + statistics incl. rater-aware intervals < 10 s, whole report < 20 s).

Run: .venv/bin/python benchmarks/bench_analysis.py [--ratings 1000000] [--compare-with OLD_CHECKOUT]
Prints the wall and CPU time of each step. ``--compare-with`` runs OLD_CHECKOUT's own copy of this benchmark in
the same run (e.g. a worktree of the previous release) and prints the ratio new/old; wall time counts other load
on the machine, so compare the CPU ratio when it is busy (see ``uptime`` printed first).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

from harness.analysis import stats
from harness.inference import screening
from harness.analysis.report import analyze
from harness.analysis.synthetic import synthetic_ratings
from harness.inference import rater_aware_summary


def _timed(steps: dict, name: str, fn, *a, **kw):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    steps[name] = (time.perf_counter() - t, time.process_time() - c)
    return out


def _old(path: str, n: int) -> tuple[float, float] | None:
    env = dict(os.environ, PYTHONPATH=path)
    r = subprocess.run([sys.executable, os.path.join(path, "benchmarks", "bench_analysis.py"), "--ratings", str(n)],
                       env=env, capture_output=True, text=True, cwd=path)
    m = re.search(r"total ([0-9.]+) s wall, ([0-9.]+) s CPU", r.stdout)
    print(f"\n--- {path} (old) ---\n{r.stdout.strip()}")
    return (float(m.group(1)), float(m.group(2))) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ratings", type=int, default=1_000_000)
    ap.add_argument("--compare-with", metavar="DIR", help="checkout of the previous version to time in this run")
    ap.add_argument("--no-report", action="store_true", help="skip the whole-report step")
    args = ap.parse_args()
    print(os.popen("uptime").read().strip())
    n_items, n_conds = 50, 14  # 3 + 11 codec conditions in the default synthetic ladder
    n_raters = max(1, round(args.ratings / (n_items * n_conds)))
    df = synthetic_ratings(n_raters=n_raters, n_items=n_items, categories=("speech", "music", "mixed"), seed=0)
    print(f"{len(df):,} ratings: {n_raters} raters x {n_items} items x {df['condition'].nunique()} conditions")
    steps: dict[str, tuple[float, float]] = {}
    table = _timed(steps, "screening (bs1534 + telemetry)", screening.screen, df, "bs1534")
    kept = _timed(steps, "drop excluded raters", screening.kept, df, table)
    _timed(steps, "rater-aware intervals alone (category x condition)", rater_aware_summary, kept)
    _timed(steps, "per (category, condition): rater-aware + per-rating t, quartiles", stats.summarize, kept,
           ("category", "condition"), bootstrap=False)
    _timed(steps, "per (category, codec, kbps): the same", stats.by_codec_bitrate, kept, per_category=True,
           bootstrap=False)
    _timed(steps, "paired comparisons (rater-cluster t, Holm; Wilcoxon)", stats.paired_comparisons, kept)
    _timed(steps, "per (item, condition)", stats.per_item, kept)
    _timed(steps, "(optional --bootstrap bca: per-rating BCa 10k per condition)", stats.summarize, kept,
           ("category", "condition"), bootstrap=True)
    counted = [v for k, v in steps.items() if not k.startswith(("rater-aware intervals alone", "(optional"))]
    wall, cpu = sum(v[0] for v in counted), sum(v[1] for v in counted)
    for k, (w, c) in steps.items():
        print(f"  {k:<62s} {w:6.2f} s wall {c:6.2f} s CPU")
    print(f"total {wall:.2f} s wall, {cpu:.2f} s CPU (screening + statistics; target < 10 s)")
    if not args.no_report:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, c = time.perf_counter(), time.process_time()
            analyze(df, out_dir=tmp)
            rw, rc = time.perf_counter() - t, time.process_time() - c
        print(f"whole report (analyze: load, screening, statistics, plots, tables, HTML): {rw:.2f} s wall, "
              f"{rc:.2f} s CPU (target < 20 s)")
    if args.compare_with:
        old = _old(args.compare_with, args.ratings)
        if old:
            print(f"ratio new/old (screening + statistics): wall {wall / old[0]:.2f}, CPU {cpu / old[1]:.2f} "
                  f"(old {old[0]:.2f} s wall, {old[1]:.2f} s CPU)")
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
