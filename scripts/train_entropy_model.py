#!/usr/bin/env python3
"""Train the context model of the entropy-coded SoundStream (``soundstream_ec``) on SoundStream codes: one command.

    python scripts/make_soundstream_data.py --out /tmp/ss-data          # the training data (once)
    python scripts/train_entropy_model.py --data /tmp/ss-data/train \\
        [--checkpoint harness/codecs/soundstream/checkpoints/soundstream_small.pt] \\
        [--out harness/codecs/entropy/models/soundstream_small.ctx.npz]

Encodes every WAV/FLAC under --data with the checkpoint at 24 quantizers (mono, soxr VHQ to 24 kHz), counts the
codes per quantizer level (see harness/codecs/entropy/context_model.py) and writes the model with the checkpoint's
sha256, a digest of the training files and this command line. Never point --data at the held-out files.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.codecs.entropy.train import train  # noqa: E402
from harness.codecs.soundstream.adapter import SHIPPED_CHECKPOINT  # noqa: E402
from harness.codecs.soundstream_ec import SHIPPED_CONTEXT_MODEL  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="training audio folder (e.g. /tmp/ss-data/train)")
    ap.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT, help="SoundStream checkpoint")
    ap.add_argument("--out", type=Path, default=SHIPPED_CONTEXT_MODEL, help="context model file (.npz)")
    args = ap.parse_args()
    if "heldout" in args.data.parts:
        ap.error(f"{args.data} looks like held-out data; train on the training part only")
    recipe = train(args.data, args.checkpoint, args.out,
                   command="python scripts/train_entropy_model.py " + shlex.join(sys.argv[1:]))
    print(f"wrote {args.out}: {recipe['files']} files, {recipe['frames']} frames "
          f"({recipe['frames'] / 75 / 60:.1f} min), codes in {recipe['encode_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
