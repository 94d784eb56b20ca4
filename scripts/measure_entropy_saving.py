#!/usr/bin/env python3
"""Measure what entropy coding saves on held-out audio: nominal vs entropy-coded kbps per bitrate, from real bytes.

    python scripts/measure_entropy_saving.py --data /tmp/ss-data/heldout [--context-model PATH] [--checkpoint PATH]

For every WAV/FLAC under --data (files the context model never saw) and every bitrate 1.5-18 kbps: the
``soundstream`` payload (packed 10-bit codes + header) and the ``soundstream_ec`` payload (range-coded codes +
header + model id) of the same codes; the kbps are total payload bits over total duration. Every entropy-coded
payload is decoded and checked to give back exactly the same codes. Prints a Markdown table and the coder's speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from harness.codecs import create_codec  # noqa: E402
from harness.codecs.entropy.train import audio_files, codes_of_files  # noqa: E402
from harness.codecs.soundstream.adapter import SHIPPED_CHECKPOINT  # noqa: E402

LADDER = (1.5, 3, 6, 9, 12, 18)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="held-out audio folder")
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--context-model", type=Path, default=None)
    args = ap.parse_args()
    files = audio_files(args.data)
    opts = {k: str(v) for k, v in (("checkpoint", args.checkpoint), ("context_model", args.context_model)) if v}
    t0 = time.time()
    codes = codes_of_files(files, args.checkpoint or SHIPPED_CHECKPOINT)
    t_model = time.time() - t0
    hop = 320
    seconds = sum(c.shape[0] * hop for c in codes) / 24000
    print(f"{len(files)} held-out files, {seconds:.1f} s (whole frames); SoundStream encode {t_model:.1f} s")
    print("\n| nominal kbps | soundstream payload kbps | soundstream_ec payload kbps | saving vs nominal | "
          "bits per code | coder x realtime (enc+dec) |")
    print("|---|---|---|---|---|---|")
    for kbps in LADDER:
        plain = create_codec("soundstream", kbps=kbps, **({"checkpoint": opts["checkpoint"]} if "checkpoint" in opts
                                                          else {}))
        ec = create_codec("soundstream_ec", kbps=kbps, **opts)
        n_q = ec.n_q
        plain_bytes = ec_bytes = 0
        t_coder = 0.0
        for c in codes:
            sub = c[:, :n_q]
            length = c.shape[0] * hop
            from harness.codecs.packing import HEADER_SIZE, packed_size

            plain_bytes += HEADER_SIZE + packed_size(sub.size, 10)
            t = time.time()
            payload = ec.pack(sub, length)
            back, n = ec.unpack(payload)
            t_coder += time.time() - t
            if n != length or not np.array_equal(back, sub):
                raise SystemExit(f"codes not decoded exactly at {kbps} kbps: the coder is broken")
            ec_bytes += len(payload)
        p_kbps, e_kbps = 8 * plain_bytes / seconds / 1000, 8 * ec_bytes / seconds / 1000
        bits = 8 * ec_bytes / sum(c.shape[0] * n_q for c in codes)
        print(f"| {kbps:g} | {p_kbps:.3f} | {e_kbps:.3f} | {100 * (1 - e_kbps / kbps):.1f} % | {bits:.2f} | "
              f"{seconds / t_coder:.0f}x |")
        del plain
    return 0


if __name__ == "__main__":
    sys.exit(main())
