"""Speed of `mushra evaluate` and of our ViSQOL wrapper, as ratios taken in one run.

1. evaluate: the same ladder (shared speech/tts/mixed items x Opus rungs x SI-SNR + ViSQOL speech + mel), computed
   with a pool of 1 and of 2 spawn-started single-threaded workers; prints the speed-up (target >= 1.7x on
   2 idle cores; worker start-up, including each worker's model/JIT load, is counted); then a re-run served by
   the cache.
2. ViSQOL (speech mode on the shared speech, audio mode on two 48 kHz music files): seconds per second of audio
   through `harness.analysis.metrics` vs calling visqol-python directly (`VisqolApi.measure` on the same files,
   same mode/mapper); target: ours within 1.2x.

Run: MUSHRA_SHARED=../shared .venv/bin/python benchmarks/bench_evaluate.py [--kbps 6,8,10,12,16,24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def _shared() -> Path:
    return Path(os.environ.get("MUSHRA_SHARED", Path(__file__).resolve().parents[2] / "shared")).resolve()


def bench_evaluate(items: Path, kbps: list[float], out: Path) -> None:
    from harness.analysis.evaluate import evaluate

    metrics = ("si-snr", "visqol-speech", "mel")
    import resource

    times, cpu = {}, {}
    for jobs in (1, 2):  # spawn pools of 1 and 2 single-threaded workers; start-up counted
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        df, _, _ = evaluate(items=items, codecs=["opus"], kbps=kbps, metrics=metrics, out_dir=out / f"j{jobs}",
                            jobs=jobs, pool=True, threads_per_worker=1, use_cache=jobs == 1, progress=False)
        times[jobs] = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[jobs] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)  # workers' CPU seconds
        print(f"  evaluate, {jobs} worker process(es): {len(df) // len(metrics)} cells in {times[jobs]:.2f} s")
    t = time.perf_counter()
    evaluate(items=items, codecs=["opus"], kbps=kbps, metrics=metrics, out_dir=out / "j1", jobs=1, progress=False)
    cached = time.perf_counter() - t
    speedup = times[1] / times[2]
    startup = max(0.0, cpu[2] - cpu[1])  # each extra worker repeats the start-up (imports, numba/TFLite loads)
    work = max(1e-9, cpu[1] - startup)
    ideal = (startup + work) / (startup + work / 2)
    print(f"  worker CPU: start-up {startup:.2f} s per worker, cells {work:.2f} s in all -> expected speed-up on "
          f"2 idle cores {ideal:.2f}x (from CPU times, insensitive to other load)")
    print(f"evaluate speed-up 2 workers vs 1: {speedup:.2f}x -> {'PASS' if speedup >= 1.7 else 'FAIL'} (>= 1.7x); "
          f"cached re-run {cached:.2f} s ({times[1] / cached:.0f}x faster)")


def bench_visqol(files: list[Path], *, mode: str = "speech", repeats: int = 2) -> None:
    import numpy as np
    from visqol import VisqolApi

    from harness.analysis.metrics import visqol_audio, visqol_speech
    from harness.audio import read_audio, write_audio

    ours_fn = visqol_speech if mode == "speech" else visqol_audio

    tmp = Path(tempfile.mkdtemp())
    pairs = []
    for i, f in enumerate(files):
        x, sr = read_audio(f)
        rng = np.random.default_rng(i)
        y = x + 0.01 * rng.standard_normal(x.shape).astype(np.float32)
        write_audio(tmp / f"d{i}.wav", y, sr)
        pairs.append((str(f), str(tmp / f"d{i}.wav"), x, y, sr))
    seconds = sum(p[2].shape[0] / p[4] for p in pairs)
    api = VisqolApi()
    if mode == "speech":
        api.create(mode="speech", use_lattice_model=True)
    else:
        api.create(mode="audio")
    api.measure(pairs[0][0], pairs[0][1])  # warm both (JIT, models)
    ours_fn(reference=pairs[0][2], degraded=pairs[0][3], sample_rate=pairs[0][4])
    direct = ours = 0.0
    for _ in range(repeats):  # interleaved so machine load hits both alike
        for ref, deg, x, y, sr in pairs:
            t = time.perf_counter()
            a = api.measure(ref, deg).moslqo
            direct += time.perf_counter() - t
            t = time.perf_counter()
            b = ours_fn(reference=read_audio(ref)[0], degraded=read_audio(deg)[0], sample_rate=sr).value
            ours += time.perf_counter() - t
            assert abs(a - b) < 1e-6, (a, b)
    total = seconds * repeats
    ratio = ours / direct
    print(f"ViSQOL {mode}: direct {direct / total:.3f} s per s of audio, ours {ours / total:.3f} s per s "
          f"(ratio {ratio:.2f}x) -> {'PASS' if ratio <= 1.2 else 'FAIL'} (<= 1.2x); identical MOS-LQO")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kbps", default="6,8,10,12,16,24")
    args = ap.parse_args()
    speech = sorted((_shared() / "audio" / "speech").glob("*.wav"))
    if not speech:
        raise SystemExit(f"no shared speech audio under {_shared()} (set MUSHRA_SHARED)")
    print(f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as d:
        items = Path(d) / "items"
        n = 0
        for category in ("speech", "tts", "mixed"):
            for f in sorted((_shared() / "audio" / category).glob("*.wav")):
                (items / category).mkdir(parents=True, exist_ok=True)
                shutil.copy(f, items / category / f.name)
                n += 1
        print(f"{n} items (shared speech, tts, mixed)")
        bench_evaluate(items, [float(k) for k in args.kbps.split(",")], Path(d) / "out")
    bench_visqol(speech, mode="speech")
    music = sorted((_shared() / "audio" / "music").glob("*.wav"))[:2]  # 48 kHz
    if music:
        bench_visqol(music, mode="audio", repeats=1)
    print(f"load average {os.getloadavg()[0]:.1f} at end (other processes distort wall-clock ratios)")


if __name__ == "__main__":
    main()
