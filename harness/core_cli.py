"""Sub-commands of the study core: ``init``, ``prepare``, ``codecs``, ``encode``, ``demo``."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.options import parse_options  # noqa: F401 - the one --option parser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a commented example study file",
                       description="Write a commented example study file (and generated example audio beside it) "
                                   "that validates as written: `mushra init study.toml && mushra prepare study.toml "
                                   "--out study/`.")
    p.add_argument("file", type=Path, help="study file to write, e.g. study.toml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--no-audio", action="store_true", help="do not generate the example audio files")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("prepare", help="generate every stimulus and DIR/manifest.json",
                       description="Generate the hidden reference, anchors and every codec condition for every item "
                                   "of STUDY, loudness-aligned (BS.1770), with DIR/manifest.json and DIR/summary.md. "
                                   "Parallel, cached in DIR/.cache (an unchanged re-run does no codec work) and "
                                   "resumable (an interrupted run redoes only what is missing).")
    p.add_argument("study", type=Path, help="the study file (TOML)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="ignore the cache and redo everything")
    p.add_argument("--skip-unavailable", action="store_true",
                   help="skip (and record) conditions whose codec cannot run here instead of failing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("codecs", help="list codecs, their bitrates and whether each is usable here",
                       description="List the registered codecs: sample rates, channels, bitrates, and whether each "
                                   "can run here (with the reason and fix if not).")
    p.add_argument("--ladder", type=_kbps_list, default=None, metavar="KBPS,KBPS,...",
                   help="show which codec x bitrate cells exist, e.g. --ladder 1.5,3,6,9,12,18")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_codecs)

    p = sub.add_parser("encode", help="transcode one file; prints a JSON line with the measured kbps",
                       description="Encode and decode IN with one codec and write the aligned result to OUT "
                                   "(same rate and channels as IN). Prints one JSON line: codec, nominal_kbps, "
                                   "measured_kbps, delay, versions, settings.")
    p.add_argument("--codec", required=True, help="codec name (see `mushra codecs`)")
    p.add_argument("--kbps", type=float, required=True, help="nominal bitrate in kbps")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="codec option (repeatable); values are TOML literals: true, 10, 2.5, \"voip\" or bare text")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("demo", help="a demo study on generated audio, then the server (or a report)",
                       description="Build a small study on audio generated here (espeak-ng speech if installed, "
                                   "else synthetic speech- and music-like signals), with Opus at 6 and 12 kbps and "
                                   "every other codec usable here, prepare it, then serve the listening test "
                                   "(interactive terminal) or write the objective report (non-interactive).")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default: demo-out)")
    p.add_argument("--no-serve", action="store_true", help="do not start the web server; print the summary")
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="server port (default 5000)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes for prepare (default: all cores)")
    p.set_defaults(func=cmd_demo)


def _kbps_list(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1.5,3,6, got {text!r}") from None
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError("bitrates must be positive numbers")
    return vals




def cmd_init(args: argparse.Namespace) -> int:
    from harness.study import load_study
    from harness.study.example import write_example

    if args.file.exists() and not args.force:
        raise HarnessError(f"{args.file} already exists; pass --force to overwrite it")
    written = write_example(args.file, with_audio=not args.no_audio)
    for p in written:
        print(f"wrote {p}")
    if not args.no_audio:
        load_study(args.file)  # the example must validate
    print(f"next: mushra prepare {args.file} --out {args.file.with_suffix('')}-stimuli/")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from harness.prepare import prepare

    if args.jobs is not None and args.jobs < 1:
        raise HarnessError("--jobs must be at least 1")
    res = prepare(args.study, args.out, jobs=args.jobs, force=args.force, skip_unavailable=args.skip_unavailable,
                  progress=not args.quiet)
    s, m = res.stats, res.manifest
    print(f"{len(m.stimuli)} stimuli ({len(m.items)} items x {len(m.conditions)} signals) in {res.folder} "
          f"in {s.seconds:.1f} s: {s.codec_runs} rendered, {s.cache_hits} from cache, {s.jobs} jobs")
    print(f"manifest: {res.folder / 'manifest.json'}\nsummary:  {res.folder / 'summary.md'}")
    return 0


def codec_table(ladder: list[float] | None = None) -> list[dict[str, Any]]:
    """One row per registered codec: name, rates, channels, bitrates, usable, reason (and ladder cells)."""
    from harness.codecs import codec_availability, codec_names, get_codec_class

    rows = []
    for name in codec_names():
        cls = get_codec_class(name)
        try:
            ok, reason = codec_availability(cls)
        except Exception as exc:  # a broken adapter must not hide the others
            ok, reason = False, f"availability check failed: {exc}"
        row = {"name": name, "description": getattr(cls, "description", ""),
               "sample_rates": list(cls.sample_rates), "channels": list(cls.channel_options),
               "bitrates": cls.bitrates.describe(), "bitrate_points": list(cls.bitrates.points),
               "bitrate_range": list(cls.bitrates.range) if cls.bitrates.range else None,
               "usable": bool(ok), "reason": reason}
        if ladder is not None:
            from harness.codecs.ladder import cell_reasons

            row["ladder"] = {f"{k:g}": cls.bitrates.supports(k) for k in ladder}
            row["ladder_empty_because"] = {k: v for k, v in cell_reasons(cls, ladder, usable=bool(ok),
                                                                          reason=reason).items() if v}
        rows.append(row)
    return rows


def cmd_codecs(args: argparse.Namespace) -> int:
    rows = codec_table(args.ladder)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.ladder is not None:
        head = ["codec"] + [f"{k:g}" for k in args.ladder] + ["usable"]
        body = [[r["name"]] + [("yes" if r["usable"] else "(yes)") if r["ladder"][f"{k:g}"] else "-"
                               for k in args.ladder] + ["yes" if r["usable"] else "no"] for r in rows]
        _print_table(head, body)
        print("\ncells: yes = the codec has that operating point (kbps) and runs here; (yes) = it has it but cannot "
              "run here; - = it has no such operating point\nwhy each cell is not 'yes':")
        for r in rows:
            for k, why in r["ladder_empty_because"].items():
                print(f"  {r['name']} @ {k} kbps: {why}")
    else:
        head = ["codec", "rates (Hz)", "channels", "bitrates", "usable"]
        body = [[r["name"], "/".join(map(str, r["sample_rates"])), "/".join(map(str, r["channels"])), r["bitrates"],
                 "yes" if r["usable"] else "no"] for r in rows]
        _print_table(head, body)
    for r in rows:
        if not r["usable"]:
            print(f"{r['name']}: not usable here: {r['reason']}")
    return 0


def _print_table(head: list[str], body: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    for row in [head, ["-" * w for w in widths], *body]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def cmd_encode(args: argparse.Namespace) -> int:
    from harness.audio import read_audio, validate_audio, write_audio
    from harness.codecs import create_codec, get_codec_class, transcode

    options = parse_options(args.option)
    audio, sr = read_audio(args.input)
    validate_audio(audio, sr, source=str(args.input))
    cls = get_codec_class(args.codec)
    if ("channels" not in options and "channels" in inspect.signature(cls.__init__).parameters
            and audio.shape[1] in cls.channel_options):
        options["channels"] = audio.shape[1]  # code a stereo file in stereo where the codec can
    try:
        codec = create_codec(args.codec, kbps=args.kbps, **options)
    except TypeError as exc:
        raise HarnessError(f"codec '{args.codec}' does not take these options ({exc}); see docs/codecs.md") from None
    res = transcode(codec, audio, sr)
    write_audio(args.output, res.audio, sr)
    print(json.dumps({"codec": res.codec, "nominal_kbps": res.nominal_kbps, "measured_kbps": round(res.measured_kbps, 4),
                      "delay": res.delay_removed_samples, "codec_sample_rate": res.codec_sample_rate,
                      "duration_s": res.duration_s, "payload_bytes": res.payload_bytes, "versions": dict(res.versions),
                      "settings": dict(res.settings), "resampler": res.resampler, "output": str(args.output)}))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo import run_demo

    return run_demo(args.out, serve=not args.no_serve, host=args.host, port=args.port, jobs=args.jobs,
                    progress=not args.quiet)
