"""Speed of the neural codec adapters on one thread: x realtime for encode+decode (higher is faster).

Targets (issue 3): Lyra v2 >= 20x realtime, EnCodec 24 kHz >= 3x realtime (random weights: same compute as the
trained model). Models are loaded once before timing, as in `mushra prepare` (one load per worker); the load time
is printed separately. Usage:

    .venv/bin/python benchmarks/bench_neural.py [--seconds 10] [--repeats 3] [--lyra-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def signal(sr: int, seconds: float, channels: int) -> np.ndarray:
    """A harmonic, amplitude-modulated speech-like test signal (float32, (frames, channels))."""
    rng = np.random.default_rng(0)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 150 < sr / 2)
    x = x * 0.5 * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size)
    x = (0.3 * x / np.max(np.abs(x))).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def bench(codec, seconds: float, repeats: int) -> tuple[float, float, float]:
    """Best-of-``repeats`` encode and decode times; returns (x realtime enc+dec, enc s, dec s)."""
    x = signal(codec.sample_rate, seconds, codec.channels)
    codec.decode(codec.encode(x[: codec.sample_rate // 2]))  # warm-up (allocations, XNNPACK packing)
    enc_t = dec_t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        payload = codec.encode(x)
        t1 = time.perf_counter()
        codec.decode(payload)
        t2 = time.perf_counter()
        enc_t, dec_t = min(enc_t, t1 - t0), min(dec_t, t2 - t1)
    return seconds / (enc_t + dec_t), enc_t, dec_t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="signal length in seconds (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats, best is kept (default 3)")
    ap.add_argument("--lyra-dir", default=str(REPO.parent / "shared" / "models" / "lyra"),
                    help="Lyra model folder (default ../shared/models/lyra)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from harness.codecs.encodec import Encodec24, Encodec48
    from harness.codecs.lyra import Lyra

    rows = []
    cases = [("lyra", lambda k: Lyra(kbps=k, model_dir=args.lyra_dir, num_threads=1), (3.2, 9.2), 20.0),
             ("encodec_24khz (random weights)", lambda k: Encodec24(kbps=k, random_weights=True), (1.5, 6.0, 24.0), 3.0),
             ("encodec_48khz (random weights)", lambda k: Encodec48(kbps=k, random_weights=True), (6.0,), None)]
    print(f"one thread (torch.get_num_threads() = {torch.get_num_threads()}), {args.seconds:g} s signal, "
          f"best of {args.repeats}")
    for name, make, points, target in cases:
        t0 = time.perf_counter()
        make(points[0])
        load = time.perf_counter() - t0
        for kbps in points:
            codec = make(kbps)
            rt, enc, dec = bench(codec, args.seconds, args.repeats)
            ok = "" if target is None else ("  OK" if rt >= target else f"  BELOW TARGET {target:g}x")
            rows.append((name, kbps, rt, enc, dec))
            print(f"{name:32s} {kbps:5g} kbps  {rt:6.1f}x realtime  (encode {enc:.2f} s, decode {dec:.2f} s; "
                  f"model load {load:.1f} s once){ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
