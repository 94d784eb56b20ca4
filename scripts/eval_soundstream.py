#!/usr/bin/env python3
"""Quality curve of a SoundStream checkpoint on the held-out files (the numbers in the model card).

    .venv/bin/python scripts/eval_soundstream.py --heldout /tmp/ss-data/heldout [--checkpoint FILE.pt]
        [--kbps 1.5 3 6 9 12 18] [--json out.json]

Every file is coded through the harness (``transcode``: resample with soxr VHQ to 24 kHz, encode, decode, back
to the file's rate; the adapter's delay is 0) and scored with the harness's metrics
(:mod:`harness.analysis.metrics`): SI-SNR in dB (Le Roux et al. 2019; float64, cross-correlation alignment within
+-100 ms, whose lag is reported and should be 0), the multi-resolution log-mel distance (lower is better) and, for
speech/TTS files only, ViSQOL v3 speech mode at 16 kHz with the exponential mapper (``use_lattice_model=False``).
Opus at 6 kbps (libopus via the ``opus`` adapter) is scored on the same files for comparison when available.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", default="/tmp/ss-data/heldout")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--kbps", type=float, nargs="+", default=[1.5, 3, 6, 9, 12, 18])
    ap.add_argument("--no-opus", action="store_true")
    ap.add_argument("--no-visqol", action="store_true")
    ap.add_argument("--bands", action="store_true",
                    help="also print, per condition, the level of the decoded speech relative to the original in "
                         "frequency bands (dB; negative = energy missing; Welch PSD, 1024-point Hann)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    files = sorted(Path(args.heldout).rglob("*.wav"))
    conds = [("soundstream", k) for k in args.kbps] + ([] if args.no_opus else [("opus", 6.0)])
    rows = []
    t0 = time.time()
    for f in files:
        x, sr = read_audio(f)
        x = x.mean(axis=1, keepdims=True)
        is_speech = any(h in str(f) for h in SPEECH_HINTS)
        for name, kbps in conds:
            opts = {"checkpoint": args.checkpoint} if (name == "soundstream" and args.checkpoint) else {}
            try:
                codec = create_codec(name, kbps=kbps, **opts)
            except Exception as exc:  # e.g. Opus adapter missing in this build
                print(f"skip {name} {kbps}: {exc}", file=sys.stderr)
                continue
            res = transcode(codec, x, sr)
            s = si_snr(reference=x, degraded=res.audio, sample_rate=sr)
            row = {"file": str(f.relative_to(args.heldout)), "speech": is_speech, "codec": name, "kbps": kbps,
                   "measured_kbps": res.measured_kbps, "si_snr_db": s.value, "lag_samples": s.settings["lag_samples"],
                   "mel": mel_distance(reference=x, degraded=res.audio, sample_rate=sr).value}
            if is_speech and args.bands:
                row["band_db"] = band_levels(reference=x, degraded=res.audio, sample_rate=sr)
            if is_speech and not args.no_visqol:
                row["visqol_speech_exp"] = visqol_speech(reference=x, degraded=res.audio, sample_rate=sr,
                                                         use_lattice_model=False).value
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    summary = []
    for name, kbps in conds:
        r = [row for row in rows if row["codec"] == name and row["kbps"] == kbps]
        if not r:
            continue
        sp = [row for row in r if row["speech"]]
        summary.append({
            "codec": name, "kbps": kbps, "files": len(r),
            "si_snr_db_all": float(np.mean([row["si_snr_db"] for row in r])),
            "si_snr_db_speech": float(np.mean([row["si_snr_db"] for row in sp])) if sp else None,
            "mel_all": float(np.mean([row["mel"] for row in r])),
            "visqol_speech_exp": (float(np.mean([row["visqol_speech_exp"] for row in sp]))
                                  if sp and "visqol_speech_exp" in sp[0] else None),
            "max_abs_lag_samples": int(max(abs(row["lag_samples"]) for row in r)),
            "band_db_speech": (np.nanmean([row["band_db"] for row in sp], axis=0).tolist()
                               if sp and "band_db" in sp[0] else None),
        })
    print("| codec | kbps | SI-SNR dB (all) | SI-SNR dB (speech) | log-mel dist (all) | ViSQOL speech (exp.) | max lag |")
    print("|---|---|---|---|---|---|---|")
    for s in summary:
        fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
        print(f"| {s['codec']} | {s['kbps']:g} | {fmt(s['si_snr_db_all'])} | {fmt(s['si_snr_db_speech'])} | "
              f"{fmt(s['mel_all'], 3)} | {fmt(s['visqol_speech_exp'])} | {s['max_abs_lag_samples']} |")
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
