#!/usr/bin/env python3
"""Quality curve of SoundStream checkpoints on the held-out files (the numbers in the model card).

    .venv/bin/python scripts/eval_soundstream.py --heldout /tmp/ss-data/heldout [--checkpoint FILE.pt]
        [--kbps 1.5 3 6 9 12 18] [--json out.json] [--bands]
    .venv/bin/python scripts/eval_soundstream.py --heldout /tmp/ss-data/heldout --run RUN_DIR [--watch 600]

Every file is coded through the harness (``transcode``: resample with soxr VHQ to 24 kHz, encode, decode, back
to the file's rate; the adapter's delay is 0) and scored with the harness's metrics
(:mod:`harness.analysis.metrics`): SI-SNR in dB (Le Roux et al. 2019; positive = better; float64,
cross-correlation alignment within +-100 ms, whose lag is reported and should be 0), the multi-resolution log-mel
distance (lower is better) and, for speech/TTS files only, ViSQOL v3 speech mode at 16 kHz with BOTH mappers,
set explicitly: lattice (``use_lattice_model=True``, the harness's and visqol-python's default when
ai-edge-litert is importable) and exponential (``use_lattice_model=False``). Opus 6/12 kbps and Lyra v2
3.2/6 kbps are scored on the same files for comparison when available.

``--run RUN_DIR`` scores every generator snapshot ``RUN_DIR/snapshots/step-NNNNNN.pt`` (written by
``mushra soundstream train --keep-snapshots``) not yet in ``RUN_DIR/heldout.jsonl`` and appends one line per
step; the comparison codecs are scored once into ``RUN_DIR/heldout-reference.json``. Before scoring, the held-out
files are checked against the run's training files (by audio content hash): a held-out file that was trained
on is an error. ``--watch S`` repeats every S seconds (for a background job beside the training).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.analysis.metrics import mel_distance, si_snr, visqol_speech  # noqa: E402
from harness.audio import read_audio  # noqa: E402
from harness.codecs import create_codec, transcode  # noqa: E402

SPEECH_HINTS = ("speech", "tts", "espeak", "festival")
BAND_EDGES_HZ = (0, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
REFERENCE_CONDS = (("opus", 6.0), ("opus", 12.0), ("lyra", 3.2), ("lyra", 6.0))
MAPPERS = (("visqol_lattice", True), ("visqol_exp", False))  # column, use_lattice_model


def band_levels(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> list[float]:
    """Level of ``degraded`` relative to ``reference`` in each band of BAND_EDGES_HZ, in dB (10 log10 of the ratio
    of the summed Welch PSDs; negative = energy missing in the decoded audio; NaN above Nyquist)."""
    from scipy.signal import welch

    f, p_ref = welch(reference.mean(axis=-1), sample_rate, nperseg=1024)
    _, p_deg = welch(degraded.mean(axis=-1), sample_rate, nperseg=1024)
    out = []
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        band = (f >= lo) & (f < hi)
        ref_e, deg_e = float(p_ref[band].sum()), float(p_deg[band].sum())
        out.append(10 * np.log10(max(deg_e, 1e-20) / ref_e) if ref_e > 0 else float("nan"))
    return out


def audio_hash(path: Path) -> str:
    """sha256 of the decoded samples (float32, mono mean), so a copied or re-encoded file is still recognised."""
    x, _ = read_audio(path)
    return hashlib.sha256(np.ascontiguousarray(x.mean(axis=1), dtype=np.float32).tobytes()).hexdigest()


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".wav", ".flac", ".ogg"))


def check_disjoint(*, heldout: list[Path], train: list[Path]) -> None:
    """Raise SystemExit naming any held-out file whose audio is also in ``train`` (never evaluate on training
    files)."""
    train_hashes = {audio_hash(p): p for p in train if p.is_file()}
    clash = [(h, train_hashes[audio_hash(h)]) for h in heldout if audio_hash(h) in train_hashes]
    if clash:
        raise SystemExit("held-out files were trained on: " + "; ".join(f"{a} = {b}" for a, b in clash)
                         + ". Evaluate on files outside the run's --data folders.")


def score_files(files: list[Path], root: Path, conds, *, checkpoint: str | None, bands: bool,
                visqol: bool) -> list[dict]:
    rows = []
    for f in files:
        x, sr = read_audio(f)
        x = x.mean(axis=1, keepdims=True)
        is_speech = any(h in str(f) for h in SPEECH_HINTS)
        for name, kbps in conds:
            opts = {"checkpoint": checkpoint} if (name == "soundstream" and checkpoint) else {}
            try:
                codec = create_codec(name, kbps=kbps, **opts)
            except Exception as exc:  # e.g. Opus/Lyra adapter unavailable in this build
                print(f"skip {name} {kbps}: {exc}", file=sys.stderr)
                continue
            res = transcode(codec, x, sr)
            s = si_snr(reference=x, degraded=res.audio, sample_rate=sr)
            row = {"file": str(f.relative_to(root)), "speech": is_speech, "codec": name, "kbps": kbps,
                   "measured_kbps": res.measured_kbps, "si_snr_db": s.value, "lag_samples": s.settings["lag_samples"],
                   "mel": mel_distance(reference=x, degraded=res.audio, sample_rate=sr).value}
            if is_speech and bands:
                row["band_db"] = band_levels(reference=x, degraded=res.audio, sample_rate=sr)
            if is_speech and visqol:
                for col, lattice in MAPPERS:
                    row[col] = visqol_speech(reference=x, degraded=res.audio, sample_rate=sr,
                                             use_lattice_model=lattice).value
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    summary = []
    for name, kbps in dict.fromkeys((r["codec"], r["kbps"]) for r in rows):
        r = [row for row in rows if row["codec"] == name and row["kbps"] == kbps]
        sp = [row for row in r if row["speech"]]
        mean = lambda rs, k: float(np.mean([x[k] for x in rs])) if rs and k in rs[0] else None  # noqa: E731
        summary.append({
            "codec": name, "kbps": kbps, "files": len(r), "speech_files": len(sp),
            "measured_kbps": mean(r, "measured_kbps"), "si_snr_db_all": mean(r, "si_snr_db"),
            "si_snr_db_speech": mean(sp, "si_snr_db"), "mel_all": mean(r, "mel"),
            "visqol_lattice": mean(sp, "visqol_lattice"), "visqol_exp": mean(sp, "visqol_exp"),
            "max_abs_lag_samples": int(max(abs(row["lag_samples"]) for row in r)),
            "band_db_speech": (np.nanmean([row["band_db"] for row in sp], axis=0).tolist()
                               if sp and "band_db" in sp[0] else None),
        })
    return summary


def table(summary: list[dict]) -> str:
    fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
    lines = ["| codec | kbps | SI-SNR dB (all) | SI-SNR dB (speech) | log-mel dist (all) | ViSQOL speech, lattice | "
             "ViSQOL speech, exp. | max lag |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['codec']} | {s['kbps']:g} | {fmt(s['si_snr_db_all'])} | {fmt(s['si_snr_db_speech'])} | "
                     f"{fmt(s['mel_all'], 3)} | {fmt(s['visqol_lattice'])} | {fmt(s['visqol_exp'])} | "
                     f"{s['max_abs_lag_samples']} |")
    return "\n".join(lines)


def eval_run(args: argparse.Namespace, files: list[Path], root: Path) -> None:
    """Score each new snapshot of ``args.run`` (and the comparison codecs once) into the run folder."""
    from harness.codecs.soundstream.checkpoint import load_train_state

    run = Path(args.run)
    if (run / "checkpoint.pt").exists():
        train = [Path(p) for p in load_train_state(run / "checkpoint.pt")["data"]["files"]]
    elif args.train_data:
        train = _audio_files(Path(args.train_data))
    else:
        raise SystemExit(f"{run}/checkpoint.pt not written yet: pass --train-data DIR (the run's --data)")
    check_disjoint(heldout=files, train=train)
    ref_path = run / "heldout-reference.json"
    if not ref_path.exists():
        ref = summarize(score_files(files, root, REFERENCE_CONDS, checkpoint=None, bands=False, visqol=True))
        ref_path.write_text(json.dumps(ref, indent=1))
    out = run / "heldout.jsonl"
    done = {json.loads(line)["step"] for line in out.read_text().splitlines()} if out.exists() else set()
    for snap in sorted((run / "snapshots").glob("step-*.pt")):
        step = int(snap.stem.split("-")[1])
        if step in done or step % args.every:
            continue
        t0 = time.time()
        rows = score_files(files, root, [("soundstream", k) for k in args.kbps], checkpoint=str(snap),
                           bands=False, visqol=not args.no_visqol)
        summary = summarize(rows)
        with open(out, "a") as f:
            f.write(json.dumps({"step": step, "checkpoint": str(snap), "eval_s": round(time.time() - t0),
                                "summary": summary, "rows": rows}) + "\n")
        print(f"step {step}\n{table(summary)}", flush=True)


def report_run(run: Path) -> str:
    """Held-out curve of every scored step of ``run`` (from ``heldout.jsonl``) with the comparison codecs: one
    table per measure, a row per step, a column per kbps, and whether the mean rises at every rung."""
    steps = [json.loads(line) for line in (run / "heldout.jsonl").read_text().splitlines()]
    ref_path = run / "heldout-reference.json"
    ref = json.loads(ref_path.read_text()) if ref_path.exists() else []
    out = []
    for key, name, higher in (("si_snr_db_all", "SI-SNR dB, all files", True),
                              ("si_snr_db_speech", "SI-SNR dB, speech files", True),
                              ("mel_all", "log-mel distance, all files (lower is better)", False),
                              ("visqol_lattice", "ViSQOL speech, lattice (default) mapper", True),
                              ("visqol_exp", "ViSQOL speech, exponential mapper", True)):
        kbps = [r["kbps"] for r in steps[0]["summary"]]
        out += [f"\n{name}\n", "| step | " + " | ".join(f"{k:g}" for k in kbps) + " | monotonic |",
                "|---|" + "---|" * (len(kbps) + 1)]
        for st in sorted(steps, key=lambda d: d["step"]):
            vals = [r[key] for r in st["summary"]]
            mono = all((b > a) if higher else (b < a) for a, b in zip(vals, vals[1:]))
            out.append(f"| {st['step']} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {'yes' if mono else 'no'} |")
        cmp = [f"{r['codec']} {r['kbps']:g} kbps {r[key]:.3f}" for r in ref if r.get(key) is not None]
        if cmp:
            out.append("\nsame files: " + ", ".join(cmp))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", default="/tmp/ss-data/heldout")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--run", default=None, metavar="RUN_DIR", help="score the run's snapshots (see above)")
    ap.add_argument("--every", type=int, default=1, help="with --run: only steps that are multiples of this")
    ap.add_argument("--watch", type=float, default=0, metavar="S", help="with --run: repeat every S seconds")
    ap.add_argument("--report", action="store_true", help="with --run: print the scored curve and exit")
    ap.add_argument("--kbps", type=float, nargs="+", default=[1.5, 3, 6, 9, 12, 18])
    ap.add_argument("--no-reference", action="store_true", help="skip the Opus and Lyra comparison rows")
    ap.add_argument("--no-visqol", action="store_true")
    ap.add_argument("--bands", action="store_true",
                    help="also print, per condition, the level of the decoded speech relative to the original in "
                         "frequency bands (dB; negative = energy missing; Welch PSD, 1024-point Hann)")
    ap.add_argument("--train-data", default=None, metavar="DIR",
                    help="check that no held-out file is among the audio under DIR (with --run: the run's own list)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    root = Path(args.heldout)
    files = sorted(root.rglob("*.wav"))
    if not files:
        raise SystemExit(f"no .wav files under {root}; make them with scripts/make_soundstream_data.py")
    if args.run and args.report:
        print(report_run(Path(args.run)))
        return 0
    if args.run:
        while True:
            eval_run(args, files, root)
            if not args.watch:
                return 0
            time.sleep(args.watch)
    if args.train_data:
        check_disjoint(heldout=files, train=_audio_files(Path(args.train_data)))
    t0 = time.time()
    conds = [("soundstream", k) for k in args.kbps] + ([] if args.no_reference else list(REFERENCE_CONDS))
    rows = score_files(files, root, conds, checkpoint=args.checkpoint, bands=args.bands, visqol=not args.no_visqol)
    summary = summarize(rows)
    print(table(summary))
    if args.bands:
        edges = BAND_EDGES_HZ
        print("\n| codec | kbps | " + " | ".join(f"{a}-{b} Hz" for a, b in zip(edges[:-1], edges[1:])) + " |")
        print("|---|---|" + "---|" * (len(edges) - 1))
        for s in summary:
            if s["band_db_speech"] is not None:
                print(f"| {s['codec']} | {s['kbps']:g} | " + " | ".join(f"{v:+.1f}" for v in s["band_db_speech"]) + " |")
    print(f"({len(files)} files, {time.time() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
