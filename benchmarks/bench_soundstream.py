#!/usr/bin/env python3
"""SoundStream speed on ONE CPU thread: streaming (frame by frame, 320 samples) and offline encode+decode.

    .venv/bin/python benchmarks/bench_soundstream.py [--checkpoint FILE.pt] [--seconds 10] [--repeats 3]

Prints "x realtime" = audio duration / processing time for each path, all taken in this one run (best of
``--repeats``), both by wall clock and by this process's CPU time (the CPU-time figure is what one idle core
would give; on a shared machine the wall-clock one is lower), plus the load average so figures can be judged.
Streaming here is the NumPy engine (:class:`StreamingCodec`) and PyTorch's own streaming mode; offline is
``SoundStream.encode`` + ``decode`` on the whole signal. libopus (the harness's ``opus`` adapter: 24 kHz, 20 ms
frames, complexity 10, VBR; it codes frame by frame, i.e. streaming) is timed on the same signal in the same run
at 6 kbps and at the same bitrate as each SoundStream row, and every streaming figure is also printed as a ratio
to libopus at 6 kbps ("x opus"): ratios taken in one run survive a loaded machine better than absolute figures.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.codecs.soundstream.adapter import SHIPPED_CHECKPOINT  # noqa: E402
from harness.codecs.soundstream.checkpoint import load_generator  # noqa: E402
from harness.codecs.soundstream.streaming import StreamingCodec, algorithmic_latency  # noqa: E402


def _signal(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(24000 * seconds)) / 24000
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    ph = 2 * np.pi * np.cumsum(f0) / 24000
    x = sum(np.sin(k * ph) / k for k in range(1, 40)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * x / np.abs(x).max() + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def _opus_round_trip(x: np.ndarray, kbps: float) -> None:
    from harness.codecs import create_codec

    codec = create_codec("opus", kbps=kbps)
    codec.decode(codec.encode(x[:, None]))


def _best(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED_CHECKPOINT))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, meta = load_generator(args.checkpoint)
    cfg = model.cfg
    x = _signal(args.seconds)
    dur = x.shape[0] / cfg.sample_rate
    lat, lat_ms = algorithmic_latency(model)
    print(f"checkpoint {args.checkpoint} (step {meta['step']}), C={cfg.channels} D={cfg.dim} n_q<={cfg.n_q}; "
          f"{dur:g} s of audio; torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")
    print(f"algorithmic latency: {lat} samples = {lat_ms:.1f} ms (one frame)")
    opus = {kb: _best(lambda kb=kb: _opus_round_trip(x, kb), args.repeats) for kb in (6.0, 18.0)}
    ow, oc = (dur / t for t in opus[6.0])
    print("| path | n_q (kbps) | x realtime (wall) | x realtime (CPU time) | x opus 6 kbps (wall / CPU) |")
    print("|---|---|---|---|---|")
    for kb, (w, c) in opus.items():
        print(f"| libopus encode+decode, 20 ms frames (streaming) | - ({kb:g}) | {dur / w:.1f} | {dur / c:.1f} | "
              f"{dur / w / ow:.2f} / {dur / c / oc:.2f} |")
    for n_q in (2, 8, 24):
        kb = cfg.kbps(n_q)
        codec = StreamingCodec(model, n_q=n_q)

        def stream() -> None:
            codec.reset()
            codec.process(x)

        w, c = _best(stream, args.repeats)
        print(f"| streaming, NumPy engine, 320-sample frames | {n_q} ({kb:g}) | {dur / w:.1f} | {dur / c:.1f} | "
              f"{dur / w / ow:.2f} / {dur / c / oc:.2f} |")

        def offline() -> None:
            with torch.inference_mode():
                model.decode(model.encode(torch.from_numpy(x)[None, None], n_q))

        w, c = _best(offline, args.repeats)
        print(f"| offline, PyTorch, whole signal | {n_q} ({kb:g}) | {dur / w:.1f} | {dur / c:.1f} | - |")
    tm = load_generator(args.checkpoint)[0]
    tm.set_streaming(True)
    frames = torch.from_numpy(x[: (x.shape[0] // cfg.hop) * cfg.hop]).reshape(-1, 1, 1, cfg.hop)

    def torch_stream() -> None:
        tm.reset_stream()
        with torch.inference_mode():
            for f in frames:
                tm.decode(tm.encode(f, 8))

    w, c = _best(torch_stream, 1)
    print(f"| streaming, PyTorch streaming mode | 8 (6) | {dur / w:.1f} | {dur / c:.1f} | "
          f"{dur / w / ow:.2f} / {dur / c / oc:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
