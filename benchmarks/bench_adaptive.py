"""Adaptive studies vs today's fixed design, replayed through the real assignment code (issue 16).

Simulated crowds (tests/webtest/_crowd.py: rater offsets and slopes, rater x condition and item x condition
effects, speech less noisy than music, a share of careless raters that BS.1534-3 post-screening removes) take
sessions through the functions the JSON API calls (``flow.create_session``, ``steps.next_step``,
``steps.submit``) on a real SQLite database, ``concurrency`` sessions in flight, a new arrival every
``arrival_s`` simulated seconds, the study state recomputed every ``refresh_s`` simulated seconds as the server
does. For each replication (same crowd, same arrival order):

- **adaptive**: ``[rater] precision = P``; the study closes itself; raters = sessions created (careless ones
  included: they are paid too);
- **fixed**: today's balanced assignment (least-rated items first); the first number of raters at which every
  target would be met, checked as raters finish (an oracle: a real fixed design must be sized in advance, so the
  script also prints the 90th percentile over replications, the size a planner needs for 9 studies in 10 to
  reach the target, and the matching ``ratings_per_item``).

Printed: raters needed (mean, and the saving against both fixed figures), the coverage of the adaptive study's
final rater-aware 95 % intervals of every (category, codec condition) against the population truth (Monte-Carlo,
200,000 simulated raters), the share of final half-widths <= P, and with ``--resolve`` the rate of wrong
decisions of ``resolve = ["c24 vs c32", "c12 vs c18"]`` (c32 made a true tie of c24; equivalence margin 5).

    nice .venv/bin/python benchmarks/bench_adaptive.py [--reps 40] [--precision 5] [--resolve-reps 20]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _open(study_dir: Path, db_path: Path, rater: dict):
    from harness.ratings.db import create_schema, open_database
    from harness.webtest.study import load_study
    from tests.webtest._crowd import build_crowd_study

    if not (study_dir / "manifest.json").exists():
        build_crowd_study(study_dir, rater=rater)
    study = load_study(study_dir)
    db = open_database(f"sqlite:///{db_path}")
    create_schema(db, study_hash=study.manifest.study_hash)
    return study, db


def _final(db, study):
    """Screened ratings and the rater-aware summary, as `mushra analyze` computes them."""
    from harness.inference import rater_aware_summary
    from harness.webtest.adaptive import ratings_frame, screen

    with db.reader.connect() as conn:
        frame = ratings_frame(conn, study)
    kept, _ = screen(frame, study.settings)
    return kept, rater_aware_summary(kept[kept["kind"] == "codec"])


def adaptive_run(tmp: Path, rep: int, args, *, rater: dict, same_as=None) -> dict:
    from harness.webtest.adaptive import Controller
    from tests.webtest._crowd import Crowd, SimClock, run_crowd

    study, db = _open(tmp / ("study_" + "_".join(sorted(rater))), tmp / f"a{rep}.sqlite", rater)
    crowd = Crowd(study, seed=rep, same_as=same_as)
    clock = SimClock(args.arrival_s)
    ctl = Controller(study, db, refresh_s=args.refresh_s, clock=clock)
    n = run_crowd(crowd, db, study, adaptive=ctl, concurrency=args.concurrency, seed=rep, clock=clock)
    kept, summary = _final(db, study)
    state = ctl.fresh(plan=False)
    db.dispose()
    return {"raters": n, "summary": summary, "state": state, "crowd": crowd, "status": state.status}


def fixed_run(tmp: Path, rep: int, args, *, rater: dict, step: int = 3) -> int:
    """Raters until every target is met under balanced assignment (checked every ``step`` finished raters, then
    refined to the exact first one)."""
    from harness.inference.sequential import precision_status
    from harness.webtest.adaptive import _layout, ratings_frame, screen
    from tests.webtest._crowd import Crowd, run_crowd

    fixed_rater = {k: v for k, v in rater.items() if k not in ("precision", "max_raters")}
    fixed_rater["ratings_per_item"] = 100_000
    study, db = _open(tmp / "study_fixed", tmp / f"f{rep}.sqlite", fixed_rater)
    crowd = Crowd(study, seed=rep)
    _, conds = _layout(study)

    def met_at(n_done: int | None = None) -> bool:
        with db.reader.connect() as conn:
            frame = ratings_frame(conn, study)
        if n_done is not None:  # the first n_done sessions to finish
            order = frame.groupby("rater")["submitted_at"].max().sort_values(kind="stable").index[:n_done]
            frame = frame[frame["rater"].isin(set(order))]
        kept, _ = screen(frame, study.settings)
        st = precision_status(kept, precision=args.precision, categories=sorted(conds), codec_conditions=conds,
                              plan=False)
        return bool(st["met"].all())

    hit = {}

    def on_finish(n_done: int) -> bool:
        if n_done >= 10 and n_done % step == 0 and met_at():
            hit["n"] = n_done
            return True
        return False

    run_crowd(crowd, db, study, adaptive=None, concurrency=1, max_raters=2000, seed=rep, on_finish=on_finish)
    n = hit.get("n", 2000)
    while n > 10 and met_at(n - 1):  # refine within the last step
        n -= 1
    db.dispose()
    return n


def coverage_rows(summary, truth) -> list[bool]:
    return [bool(r.ci_low <= truth[(r.category, r.condition)] <= r.ci_high) for r in summary.itertuples()]


def wrong_decision(row, truth, margin: float) -> bool:
    d = truth[(row.category, row.a)] - truth[(row.category, row.b)]
    return {"a better": d <= 0, "b better": d >= 0, "equivalent": abs(d) >= margin}.get(row.decision, False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=40, help="replications of the precision study")
    ap.add_argument("--precision", type=float, default=5.0, help="target half-width, MUSHRA points")
    ap.add_argument("--trials-per-rater", type=int, default=3)
    ap.add_argument("--careless", type=float, default=0.15, help="(fixed in the population: 0.15)")
    ap.add_argument("--concurrency", type=int, default=4, help="sessions in flight at once")
    ap.add_argument("--arrival-s", type=float, default=2.0, help="simulated seconds between arrivals")
    ap.add_argument("--refresh-s", type=float, default=5.0, help="the server's recompute interval (simulated s)")
    ap.add_argument("--resolve-reps", type=int, default=0, help="replications of the resolve study (0: skip)")
    ap.add_argument("--no-fixed", action="store_true", help="skip the fixed-design runs")
    args = ap.parse_args(argv)

    t0 = time.time()
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench_adaptive_"))
    rater = {"trials_per_rater": args.trials_per_rater, "training_items": 0, "precision": args.precision,
             "max_raters": 2000}
    truth = None
    n_adapt, n_fixed, cover, within, stopped = [], [], [], [], []
    for rep in range(args.reps):
        res = adaptive_run(tmp, rep, args, rater=rater)
        truth = truth or res["crowd"].truth()
        n_adapt.append(res["raters"])
        cover += coverage_rows(res["summary"], truth)
        within += list(res["summary"]["half_width"] <= args.precision + 1e-9)
        stopped.append(res["status"])
        if not args.no_fixed:
            n_fixed.append(fixed_run(tmp, rep, args, rater=rater))
        print(f"  rep {rep}: adaptive {res['raters']} raters ({res['status']})"
              + (f", fixed (oracle) {n_fixed[-1]}" if n_fixed else ""), flush=True)
    ok = True
    if args.reps:
        ok = _report_precision(args, n_adapt, n_fixed, cover, within, stopped)
    if args.resolve_reps:
        _resolve(tmp, args)
    print(f"elapsed {time.time() - t0:.0f} s; load average {load0:.1f} -> {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _report_precision(args, n_adapt, n_fixed, cover, within, stopped) -> bool:
    a = np.array(n_adapt, dtype=float)
    cov = float(np.mean(cover))
    se = math.sqrt(cov * (1 - cov) / len(cover))
    print(f"\nprecision target +-{args.precision:g} MUSHRA points (rater-aware 95 % interval, every codec condition "
          f"x category: 6 x 2), {args.trials_per_rater} of 8 items per rater, 15 % careless raters, "
          f"{args.concurrency} sessions in flight, refresh every {args.refresh_s:g} s, {args.reps} replications")
    print(f"adaptive: {a.mean():.1f} raters (sd {a.std(ddof=1) if a.size > 1 else 0:.1f}); stopped by "
          f"{sorted(set(stopped))}; final half-widths <= target: {100 * np.mean(within):.1f} %")
    if n_fixed:
        f = np.array(n_fixed, dtype=float)
        p90 = float(np.percentile(f, 90))
        rpi = math.ceil(p90 * args.trials_per_rater / 8)
        print(f"fixed (balanced) oracle, first rater count meeting every target: mean {f.mean():.1f} "
              f"(median {np.median(f):.0f}); sized in advance for 9 studies in 10: {p90:.0f} raters "
              f"(ratings_per_item = {rpi})")
        print(f"saving: {100 * (1 - a.mean() / f.mean()):.0f} % of raters vs the oracle fixed design, "
              f"{100 * (1 - a.mean() / p90):.0f} % vs the fixed design sized for 90 % success")
    print(f"coverage of the final 95 % intervals: {100 * cov:.1f} % +- {100 * se:.1f} (1 s.e.) over {len(cover)} "
          f"intervals (required 95 +- 2)")
    return abs(cov - 0.95) <= 0.02 + 2 * se


def _resolve(tmp: Path, args) -> None:
    """The resolve study: wrong-decision rate against the simulated truth."""
    margin, err = 5.0, 0.05
    rrater = {"trials_per_rater": args.trials_per_rater, "training_items": 0, "max_raters": 2000,
              "resolve": ["c24 vs c32", "c12 vs c18"], "equivalence_margin": margin, "decision_error": err}
    wrong, total, n_res, decisions = 0, 0, [], {}
    for rep in range(args.resolve_reps):
        res = adaptive_run(tmp, 1000 + rep, args, rater=rrater, same_as={"c32": "c24"})
        tr = res["crowd"].truth()
        for row in res["state"].resolve.itertuples():
            total += 1
            wrong += wrong_decision(row, tr, margin)
            decisions[row.decision] = decisions.get(row.decision, 0) + 1
        n_res.append(res["raters"])
        print(f"  resolve rep {rep}: {res['raters']} raters, "
              f"{[(r.category, r.a, r.b, r.decision) for r in res['state'].resolve.itertuples()]}", flush=True)
    print(f"resolve ['c24 vs c32' (a true tie), 'c12 vs c18'] per category, margin +-{margin:g}, "
          f"decision_error {err:g}: {np.mean(n_res):.1f} raters; wrong decisions {wrong}/{total} = "
          f"{100 * wrong / max(total, 1):.1f} % (required <= {100 * err:g} %); decisions {decisions}")


if __name__ == "__main__":
    sys.exit(main())
