"""Speed of the issue-18 codecs on one thread, as x realtime for encode+decode through `transcode` (resampling
included) and as a ratio to libopus at 6 kbps measured in the same run. Usage:

    .venv/bin/python benchmarks/bench_breadth.py [--seconds 5] [--repeats 2]

Neural models use random weights (same compute as trained ones). Prints `uptime` before and after: quote it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES = [("opus", 6, {}), ("codec2", 1.6, {}), ("codec2", 3.2, {}), ("lc3", 18, {}), ("lc3", 64, {}),
         ("soundstream", 6, {}), ("soundstream_ec", 1.5, {}), ("soundstream_ec", 6, {}), ("soundstream_ec", 18, {}),
         ("mimi", 1.1, {"random_weights": True}), ("dac_16khz", 6, {"random_weights": True}),
         ("dac_24khz", 6, {"random_weights": True})]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import torch

    from harness.codecs import create_codec, transcode
    from tests.conftest import speechlike

    torch.set_num_threads(1)
    x = speechlike(sr=48000, seconds=args.seconds)
    os.system("uptime")
    base = None
    for name, kbps, opts in CASES:
        c = create_codec(name, kbps=kbps, **opts)
        transcode(c, x[:48000], 48000)  # warm-up
        best = min(_timed(transcode, c, x) for _ in range(args.repeats))
        speed = args.seconds / best
        base = base or speed
        print(f"{name:15s} {kbps:5g} kbps  {speed:6.1f}x realtime  {speed / base:6.3f} x libopus 6 kbps", flush=True)
    os.system("uptime")
    return 0


def _timed(fn, c, x) -> float:
    t = time.perf_counter()
    fn(c, x, 48000)
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
