"""Unchanged re-runs through the command line, each in a fresh process as a user runs them: ``mushra prepare``
on a study with a SoundStream condition (required < 1 s) and a cached ``mushra evaluate`` (required < 2 s).
Prints first-run and re-run wall times and their ratio, all measured in this run.

Usage: python benchmarks/bench_rerun.py [--items 3] [--seconds 3] [--jobs 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.audio import write_audio  # noqa: E402
from harness.signals import music_like, speech_like  # noqa: E402


def make_items(folder: Path, n: int, seconds: float) -> None:
    for i in range(n):
        x = speech_like(seconds=seconds, seed=i) if i % 2 == 0 else music_like(seconds=seconds, seed=i)
        write_audio(folder / "items" / ("speech" if i % 2 == 0 else "music") / f"item{i}.wav", x, 24000)


def mushra(*args: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one command in a fresh process; the CPU figure does not
    grow with other load on the machine, the wall figure does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", *args, "--quiet"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(what: str, first: tuple[float, float], again: tuple[float, float], limit: float) -> None:
    print(f"{what}: first {first[0]:.2f} s wall ({first[1]:.2f} s CPU), re-run {again[0]:.2f} s wall "
          f"({again[1]:.2f} s CPU); ratio re-run/first {again[0] / first[0]:.3f} wall, {again[1] / first[1]:.3f} CPU; "
          f"required < {limit:g} s: {'ok' if again[0] < limit else 'NOT MET at this load'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-rerun-"))
    make_items(work, a.items, a.seconds)
    (work / "study.toml").write_text(
        f'schema_version = 1\nname = "rerun"\nsample_rate = 24000\nexcerpt_seconds = {a.seconds}\n'
        'items_dir = "items"\n\n[[conditions]]\ncodec = "opus"\nkbps = 12\n\n'
        '[[conditions]]\ncodec = "soundstream"\nkbps = 6\n')
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"{a.items} items x {a.seconds:g} s; jobs={a.jobs}; load average (1 min) at start {load}")
    first = mushra("prepare", str(work / "study.toml"), "--out", str(work / "out"), "--jobs", str(a.jobs))
    again = mushra("prepare", str(work / "study.toml"), "--out", str(work / "out"), "--jobs", str(a.jobs))
    report("prepare (opus + soundstream), unchanged", first, again, 1.0)
    ev = ["evaluate", "--items", str(work / "items"), "--codec", "opus", "--kbps", "6,12,24", "--metric", "si-snr",
          "--metric", "mel", "--out", str(work / "eval"), "--jobs", str(a.jobs)]
    first = mushra(*ev)
    again = mushra(*ev)
    report("evaluate (opus x 3 rates x 2 metrics), cached", first, again, 2.0)
    with open("/proc/loadavg") as f:
        print(f"load average (1 min) at the end {f.read().split()[0]}")


if __name__ == "__main__":
    main()
