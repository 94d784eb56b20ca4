"""A tiny command-line 'codec' for tests: copies a WAV, delaying it by N samples (a codec with a wrong delay)."""

import sys

import numpy as np
import soundfile as sf

if __name__ == "__main__":
    src, dst, delay = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x, sr = sf.read(src, dtype="float32", always_2d=True)
    y = np.concatenate([np.zeros((delay, x.shape[1]), np.float32), x])[: len(x)]
    sf.write(dst, y, sr, subtype="PCM_16")
