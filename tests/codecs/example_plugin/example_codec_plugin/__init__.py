"""Example codec plug-in: 8-bit mu-law companding at 8 kHz, the G.711-style 64 kbps telephone codec.

The continuous mu-law curve (mu = 255) is used, not G.711's 8-segment table, so this is "G.711-like".
Registered through the ``harness.codecs`` entry-point group in this package's pyproject.toml.
"""

import numpy as np

from harness.codecs.base import BitrateSpec, Codec

MU = 255.0


class MuLaw(Codec):
    name = "example_mulaw"
    description = "8 kHz mu-law companding, 8 bits/sample (G.711-like), example plug-in"
    sample_rates = (8000,)
    channel_options = (1,)
    bitrates = BitrateSpec(points=(64.0,))

    def encode(self, audio: np.ndarray) -> bytes:
        x = np.clip(audio[:, 0].astype(np.float64), -1.0, 1.0)
        y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
        return np.round((y + 1.0) * 127.5).astype(np.uint8).tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        y = np.frombuffer(payload, dtype=np.uint8).astype(np.float64) / 127.5 - 1.0
        x = np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU
        return x.astype(np.float32)[:, None]

    def versions(self) -> dict:
        return {"example-codec-plugin": "0.1.0"}
