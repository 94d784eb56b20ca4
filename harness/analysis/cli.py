"""Sub-commands ``analyze``, ``evaluate``, ``metric``, ``regress`` and ``report``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from harness.errors import HarnessError
from harness.options import option_value, parse_codec_options
from harness.vocabulary import SCREENING_PRESETS

METRIC_CHOICES = ("visqol-audio", "visqol-speech", "si-snr", "si-sdr", "mel", "pesq", "pesq-nb", "stoi", "estoi",
                  "dnsmos")  # = harness.analysis.metrics.METRICS (kept literal: no metric imports at start-up)


_value = option_value  # TOML literal values, as --option takes them


def _kbps_list(values: list[str]) -> list[float]:
    out: list[float] = []
    for v in values or []:
        for part in v.split(","):
            if part.strip():
                try:
                    out.append(float(part))
                except ValueError:
                    raise HarnessError(f"--kbps: '{part}' is not a number; use e.g. --kbps 3,6,12") from None
    return out


_codec_options = parse_codec_options  # the one --option parser (TOML values), shared with `encode`


def _metric_options(args) -> dict[str, dict[str, Any]]:
    return {"visqol-speech": {"use_lattice_model": args.visqol_mapper == "lattice"}}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="screen ratings, compute statistics, write curves/tables/HTML report",
                       description="Analyse a listening test: post-screening, statistics, curves, tables, report.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", metavar="URL",
                     help="database URL of the web app (sqlite:///..., postgresql+psycopg://...); "
                          "default with --study: the study's own DIR/ratings.sqlite, as `mushra serve` uses")
    src.add_argument("--ratings", metavar="CSV", help="admin CSV export or a webMUSHRA results CSV")
    p.add_argument("--study", metavar="DIR", help="prepared study folder (adds categories, bitrates, labels)")
    p.add_argument("--out", metavar="REPORT_DIR", required=True, help="folder for the report files")
    p.add_argument("--screening", choices=SCREENING_PRESETS, default=None,
                   help="post-screening preset (default: the study's [rater] screening with --study, else bs1534: "
                        "ITU-R BS.1534-3 sec. 4.1.2)")
    p.add_argument("--rater-column", metavar="NAME",
                   help="column naming the raters (default: session_uuid, email or a participant column)")
    p.add_argument("--screen-set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a screening threshold, e.g. reference_max_fraction=0.2 or exclude_flagged=true")
    p.add_argument("--items", choices=("fixed", "random"), default="fixed", dest="items_mode",
                   help="estimand of the plotted 95 %% interval: fixed (default) = mean a new population of raters "
                        "would give these items (rater-cluster t); random = also over a population of items "
                        "(two-way cluster t)")
    p.add_argument("--bd-baseline", metavar="CODEC",
                   help="codec the BD-rates are measured against (default: opus if present, else the first codec)")
    p.add_argument("--baseline", metavar="CONDITION",
                   help="compare every condition with this one only (default: all pairs), e.g. opus@24")
    p.add_argument("--bootstrap", choices=("none", "bca", "percentile"), default="none",
                   help="also compute the per-rating bootstrap CI (ci_boot_*, for comparison only: it ignores rater "
                        "clustering); default none")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--evaluation", metavar="RESULTS.json", help="also plot objective results from `mushra evaluate`")
    p.set_defaults(func=_analyze)

    p = sub.add_parser("evaluate", help="objective metrics for a codec x bitrate ladder or a prepared study",
                       description="Code every item with every codec at every bitrate and compute metrics. "
                                   "Parallel (spawn workers or a Dask cluster), cached in OUT/.cache.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--items", metavar="DIR", help="folder of audio items (sub-folder name = category)")
    src.add_argument("--study", metavar="DIR", help="prepared study: its stimuli vs its references")
    p.add_argument("--codec", action="append", default=[], help="codec name (repeat); see `mushra codecs`")
    p.add_argument("--kbps", action="append", default=[], help="bitrate ladder in kbps, e.g. 3,6,12")
    p.add_argument("--metric", action="append", choices=METRIC_CHOICES, default=None,
                   help="metric (repeat; default si-snr)")
    p.add_argument("--option", action="append", default=[], metavar="CODEC:KEY=VALUE",
                   help="codec option, e.g. encodec_24khz:random_weights=true")
    p.add_argument("--visqol-mapper", choices=("lattice", "exponential"), default="lattice",
                   help="ViSQOL speech-mode mapper (default lattice, the ViSQOL v3.3 C++ default)")
    p.add_argument("--out", default="evaluation", metavar="DIR", help="output folder (default ./evaluation)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster (tcp://host:8786)")
    p.add_argument("--no-cache", action="store_true", help="recompute every cell")
    p.add_argument("--report", action="store_true", help="also write OUT/report.html with curves and tables")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("metric", help="one objective metric of a degraded file against its reference",
                       description="Compute one metric; the reference is the clean file, the degraded the coded one.")
    p.add_argument("--reference", metavar="R.wav", help="clean file (not needed by the non-intrusive dnsmos)")
    p.add_argument("--degraded", required=True, metavar="D.wav")
    p.add_argument("--metric", required=True, choices=METRIC_CHOICES)
    p.add_argument("--visqol-mapper", choices=("lattice", "exponential"), default="lattice",
                   help="ViSQOL speech-mode mapper (default lattice)")
    p.add_argument("--json", action="store_true", help="print one JSON object (metric, value, unit, settings, version)")
    p.set_defaults(func=_metric)

    p = sub.add_parser("regress", help="compare two evaluation results; exit 1 on a regression (CI gate)",
                       description="Compare CURRENT to BASELINE per (item, condition, metric). Exit status 1 if any "
                                   "cell got worse than its tolerance or disappeared, or a codec is not shown "
                                   "non-inferior across items; 2 if the runs' metric settings differ.")
    p.add_argument("baseline", metavar="BASELINE.json")
    p.add_argument("current", metavar="CURRENT.json")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=VALUE",
                   help="allowed worsening in the metric's unit (e.g. si-snr=0.5, visqol=0.05)")
    p.add_argument("--margin", action="append", default=[], metavar="METRIC=VALUE",
                   help="non-inferiority margin per metric for the across-items test (e.g. si-snr=0.2)")
    p.add_argument("--strict", action="store_true",
                   help="also fail when the across-items test is inconclusive (default: only when inferior)")
    p.add_argument("--allow-settings-change", action="store_true",
                   help="compare even when metric settings/versions differ (cells marked incomparable)")
    p.add_argument("--markdown", metavar="OUT.md", help="write a Markdown summary for a pull-request comment")
    p.set_defaults(func=_regress)

    p = sub.add_parser("plan", help="raters (and items) a MUSHRA study needs, from pilot ratings or variance "
                                    "components",
                       description="Estimate variance components from pilot ratings (or take them as stated) and "
                                   "print how many raters are needed for a target 95 %% interval half-width and for "
                                   "the stated power to detect a difference between two conditions.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ratings", metavar="CSV", help="pilot ratings: admin CSV export or webMUSHRA results CSV")
    src.add_argument("--db", metavar="URL", help="pilot ratings in the web app's database")
    src.add_argument("--components", metavar="KEY=SD,...",
                     help="no pilot: stated SDs in MUSHRA points, e.g. rater=8,rater_condition=6,item=6,residual=10")
    p.add_argument("--study", metavar="DIR", help="prepared study folder (marks codec conditions)")
    p.add_argument("--half-width", type=float, default=5.0, help="target 95 %% CI half-width (default 5 points)")
    p.add_argument("--difference", type=float, default=10.0,
                   help="difference between two conditions to detect, in MUSHRA points (default 10)")
    p.add_argument("--power", type=float, default=0.8, help="power for --difference (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided test level (default 0.05)")
    p.add_argument("--comparisons", type=int, default=1,
                   help="number of comparisons to be Holm-corrected (uses alpha/K; default 1)")
    p.add_argument("--items", type=int, action="append", metavar="N", dest="n_items",
                   help="items each rater rates (repeat for several; default: the pilot's count, and 4, 8, 12, 16)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_plan)

    p = sub.add_parser("report", help="HTML report, curves and tables from evaluation results")
    p.add_argument("results", metavar="RESULTS.json")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=_report)


def _analyze(args) -> int:
    from harness.analysis.report import analyze

    overrides = {}
    for spec in args.screen_set:
        k, sep, v = spec.partition("=")
        if not sep:
            raise HarnessError(f"--screen-set '{spec}': use KEY=VALUE")
        overrides[k] = _value(v)
    source = args.db or args.ratings
    if source is None:
        if not args.study:
            raise HarnessError("say where the ratings are: --db URL, --ratings CSV, or --study DIR "
                               "(which reads DIR/ratings.sqlite, the database `mushra serve DIR` writes)")
        from harness.ratings import default_db_url
        from pathlib import Path

        source = default_db_url(Path(args.study))
    res = analyze(source, out_dir=args.out, study=args.study, screening_preset=args.screening,
                  screening_overrides=overrides, rater_column=args.rater_column,
                  n_resamples=args.resamples, seed=args.seed, method=args.bootstrap, evaluation=args.evaluation,
                  items=args.items_mode, baseline=args.baseline, bd_baseline=args.bd_baseline)
    print(f"{res.n_raters} raters, {res.n_excluded} excluded ({res.screening}); report: {res.html}")
    return 0


def _evaluate(args) -> int:
    from harness.analysis.evaluate import evaluate

    metrics = tuple(args.metric or ["si-snr"])
    df, paths, notes = evaluate(items=args.items, study=args.study, codecs=args.codec, kbps=_kbps_list(args.kbps),
                                metrics=metrics, out_dir=args.out, jobs=max(1, args.jobs), scheduler=args.scheduler,
                                use_cache=not args.no_cache, codec_options=_codec_options(args.option),
                                metric_options=_metric_options(args), progress=not args.quiet)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    failed = df[df["error"].astype(str) != ""] if "error" in df else df.iloc[:0]
    for r in failed.itertuples():
        print(f"failed: {r.metric}: {r.error}", file=sys.stderr)
    keys = ["metric", "codec", "kbps"] if args.items else ["metric", "condition"]
    table = df.groupby(keys, dropna=False).agg(
        mean=("value", "mean"), measured_kbps=("measured_kbps", "mean"), n=("value", "size"))
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"{len(df)} results ({int(df['cached'].sum())} from cache): {', '.join(map(str, paths.values()))}")
    if args.report:
        from harness.analysis.report import objective_report

        print(f"report: {objective_report(paths['json'], args.out)}")
    if len(failed):
        print(f"error: {len(failed)} result(s) failed (see the notes above and the 'error' column); the others are "
              "saved", file=sys.stderr)
        return 1
    return 0


def _metric(args) -> int:
    from harness.analysis.metrics import compute
    from harness.audio import read_audio, resample

    deg, sr = read_audio(args.degraded)
    ref = None
    if args.reference:
        ref, rsr = read_audio(args.reference)
        if rsr != sr:
            deg, sr = resample(deg, sr, rsr), rsr
    opts = _metric_options(args).get(args.metric, {})
    r = compute(args.metric, reference=ref, degraded=deg, sample_rate=sr, **opts)
    if args.json:
        d = r.to_dict()
        d["value"] = d["value"] if math.isfinite(d["value"]) else str(d["value"])
        d["reference"], d["degraded"] = args.reference, args.degraded
        print(json.dumps(d, default=str))
    else:
        print(f"{r.metric}: {r.value:.4f} {r.unit}  ({r.version})")
    return 0


def _regress(args) -> int:
    from harness.analysis.comparable import describe
    from harness.analysis.regress import (DEFAULT_MARGIN, markdown, non_inferiority, parse_tolerances,
                                          regress_files, text_table, verdict)

    tol = parse_tolerances(args.tolerance)
    margins = parse_tolerances(args.margin, defaults=DEFAULT_MARGIN, option="margin")
    table, diffs = regress_files(args.baseline, args.current, tol, allow_settings_change=args.allow_settings_change)
    for line in describe(diffs):
        print(f"WARNING: runs differ: {line}", file=sys.stderr)
    ni = non_inferiority(table, margins)
    print(text_table(table))
    if len(ni):
        print("\nnon-inferiority across items (change > 0 is better; bounds: one-sided 95 %):")
        print(ni.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).write_text(markdown(table, ni, diffs))
    n = {k: int((table["status"] == k).sum()) for k in ("regression", "improvement", "missing", "incomparable")}
    n_ni = int((ni["status"] == "inferior").sum())
    v = verdict(table, ni, strict=args.strict)
    print(f"{n['regression']} regression(s), {n['improvement']} improvement(s), {n['missing']} missing cell(s), "
          f"{n['incomparable']} incomparable, {n_ni} codec(s) inferior across items: {v}")
    return 1 if v == "FAIL" else 0


def _plan(args) -> int:
    from harness.analysis import plan as P

    if args.components:
        comps, source = P.parse_components(args.components), "stated"
    else:
        src = args.ratings or args.db
        comps, _ = P.components_from_ratings(src, study_dir=args.study)
        source = f"pilot {src}"
    items = sorted(set(args.n_items or ([comps.n_items] if comps.n_items else []) + [4, 8, 12, 16]))
    if any(n < 1 for n in items):
        raise HarnessError("--items must be at least 1")
    kw = dict(half_width=args.half_width, difference=args.difference, power=args.power, alpha=args.alpha,
              comparisons=args.comparisons)
    rows = P.plan(comps, n_items=items, **kw)
    if args.json:
        import dataclasses

        print(json.dumps({"components": dataclasses.asdict(comps), "source": source, "settings": kw,
                          "rows": [dataclasses.asdict(r) for r in rows]}))
    else:
        print(P.text_report(comps, rows, source=source, **kw))
    return 0


def _report(args) -> int:
    from harness.analysis.report import objective_report

    print(objective_report(args.results, args.out))
    return 0
