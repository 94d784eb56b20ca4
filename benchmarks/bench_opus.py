"""Opus adapter speed: x realtime of encode+decode on one core, and the ratio to calling opuslib alone.

Requirement (issue 2): the adapter runs >= 30x realtime. libopus's own cost dominates; the ratio to plain
opuslib (its Encoder/Decoder classes, int16 PCM) shows the adapter's overhead. Both are timed in this run on the
same signal, single-threaded. Usage: python benchmarks/bench_opus.py [--seconds 20] [--kbps 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from harness.codecs import create_codec  # noqa: E402
from harness.signals import music_like, speech_like  # noqa: E402


def best(fn, repeats: int) -> tuple[float, float]:
    """Best (CPU seconds, wall seconds) of ``repeats`` calls. CPU time is what one core spent; wall time also
    counts time this process waited for a core (other load on the machine)."""
    cpu, wall = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return min(cpu), min(wall)


def adapter_run(x: np.ndarray, kbps: float, vbr: bool) -> None:
    c = create_codec("opus", kbps=kbps, vbr=vbr)
    c.decode(c.encode(x))


def opuslib_run(x: np.ndarray, kbps: float, vbr: bool) -> None:
    import opuslib

    enc, dec = opuslib.Encoder(48000, 1, "audio"), opuslib.Decoder(48000, 1)
    enc.bitrate, enc.vbr, enc.complexity = int(kbps * 1000), int(vbr), 10
    pcm = (np.clip(x[:, 0], -1, 1) * 32767).astype("<i2")
    f = 960
    for i in range(0, len(pcm) - f + 1, f):
        dec.decode(enc.encode(pcm[i:i + f].tobytes(), f), f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--kbps", type=float, default=12.0)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    signals = {"speech-like": speech_like(seconds=a.seconds), "music-like": music_like(seconds=a.seconds)}
    print(f"Opus {a.kbps:g} kbps, 48 kHz mono, complexity 10, 20 ms frames, {a.seconds:g} s, best of {a.repeats}")
    print(f"{'signal':12} {'mode':4} {'adapter xRT cpu':>15} {'(wall)':>7} {'opuslib xRT cpu':>15} {'(wall)':>7} "
          f"{'adapter/opuslib':>15}")
    worst = float("inf")
    for name, x in signals.items():
        for vbr in (False, True):
            ca, wa = best(lambda: adapter_run(x, a.kbps, vbr), a.repeats)
            co, wo = best(lambda: opuslib_run(x, a.kbps, vbr), a.repeats)
            worst = min(worst, a.seconds / ca)
            print(f"{name:12} {'VBR' if vbr else 'CBR':4} {a.seconds / ca:15.1f} {a.seconds / wa:7.1f} "
                  f"{a.seconds / co:15.1f} {a.seconds / wo:7.1f} {co / ca:15.2f}")
    print(f"slowest adapter case: {worst:.1f}x realtime on one core (CPU time; required >= 30x): "
          f"{'PASS' if worst >= 30 else 'FAIL'}")
    print("xRT = audio seconds / seconds spent; 'cpu' counts only the time a core worked on it, 'wall' also the time "
          "spent waiting for a core while other processes ran")


if __name__ == "__main__":
    main()
