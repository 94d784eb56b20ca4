"""``prepare`` speed: --jobs 1 vs --jobs 2 on generated items (speed-up ratio, required >= 1.7x), then an
unchanged re-run (required < 2 s). Everything is timed in this run on the same generated study.

Usage: python benchmarks/bench_prepare.py [--items 10] [--seconds 10] [--repeats 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.audio import write_audio  # noqa: E402
from harness.prepare import prepare  # noqa: E402
from harness.signals import music_like, speech_like  # noqa: E402

# (kbps, vbr): a typical full MUSHRA trial: 7 conditions + 2 anchors + hidden reference = 10 signals
CONDITIONS = [(6, True), (8, False), (10, True), (12, False), (16, True), (24, True), (32, False)]


def make_study(folder: Path, n_items: int, seconds: float) -> Path:
    body = ["schema_version = 1", 'name = "bench"', "sample_rate = 48000", "channels = 1",
            f"excerpt_seconds = {seconds}", ""]
    for i in range(n_items):
        x = speech_like(seconds=seconds, seed=i) if i % 2 == 0 else music_like(seconds=seconds, seed=i)
        write_audio(folder / f"item{i}.wav", x, 48000)
        body += ["[[items]]", f'id = "item{i}"', f'file = "item{i}.wav"', ""]
    for kbps, vbr in CONDITIONS:
        body += ["[[conditions]]", 'codec = "opus"', f"kbps = {kbps}", f"options = {{ vbr = {str(vbr).lower()} }}", ""]
    (folder / "study.toml").write_text("\n".join(body))
    return folder / "study.toml"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers once it has shut down)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(study: Path, out: Path, jobs: int):
    t, c = time.perf_counter(), cpu_seconds()
    res = prepare(study, out, jobs=jobs, progress=False)
    wall = time.perf_counter() - t
    return wall, res.stats, (cpu_seconds() - c) / wall  # average cores this run actually got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=2, help="alternating jobs=1/jobs=2 runs; the best of each counts")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-prepare-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        study = make_study(work, a.items, a.seconds)
        n = a.items * (len(CONDITIONS) + 2)
        print(f"{a.items} items x {a.seconds:g} s, {len(CONDITIONS)} Opus conditions + 2 anchors = {n} renders")
        t1 = t2 = float("inf")
        cpu1 = cpu2 = 0.0
        for r in range(a.repeats):  # alternate so a burst of load elsewhere hits both settings alike
            d1, s1, c1 = timed(study, work / f"j1-{r}", 1)
            d2, s2, c2 = timed(study, work / f"j2-{r}", 2)
            assert s1.codec_runs == s2.codec_runs == n, (s1, s2)
            print(f"  run {r + 1}: jobs=1 {d1:.2f} s ({c1:.2f} cores busy), jobs=2 {d2:.2f} s ({c2:.2f} cores busy)")
            if d1 < t1:
                cpu1 = d1 * c1
            if d2 < t2:
                cpu2 = d2 * c2
            t1, t2 = min(t1, d1), min(t2, d2)
        t3, s3, _ = timed(study, work / f"j2-{a.repeats - 1}", 2)
        print(f"jobs=1: {t1:.2f} s   jobs=2: {t2:.2f} s   speed-up {t1 / t2:.2f}x (required >= 1.7x): "
              f"{'PASS' if t1 / t2 >= 1.7 else 'FAIL'}")
        print(f"  CPU seconds: jobs=1 {cpu1:.1f}, jobs=2 {cpu2:.1f} (parallel overhead {100 * (cpu2 / cpu1 - 1):+.0f} %)")
        print("  (cores busy = CPU seconds / wall seconds; if jobs=2 got no more than jobs=1, other processes on this "
              "machine held the second core and the ratio says nothing about prepare)")
        print(f"unchanged re-run: {t3:.3f} s, {s3.codec_runs} renders, {s3.cache_hits} cache hits (required < 2 s): "
              f"{'PASS' if t3 < 2 and s3.codec_runs == 0 else 'FAIL'}")
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
