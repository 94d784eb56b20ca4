"""Codec 2 (David Rowe, LGPL-2.1), the open low-rate speech codec, through Debian's ``c2enc`` / ``c2dec`` (codec2 1.0).

8 kHz mono, 16-bit PCM. Modes (bits per frame / frame length, from codec2's ``codec2_bits_per_frame`` and
``codec2_samples_per_frame``): 3200 (64 / 20 ms), 2400 (48 / 20 ms), 1600 (64 / 40 ms), 1400 (56 / 40 ms),
1300 (52 / 40 ms), 1200 (48 / 40 ms), 700C (28 / 40 ms), 450 (18 / 40 ms).

``c2enc`` writes each frame as whole bytes (a 52-bit 1300 frame takes 7 bytes, a 28-bit 700C frame 4 bytes), so the
file is up to 14 % bigger than the codec's own rate. The **payload** here is the frames' bits only, packed densely
MSB-first in the order ``c2enc`` writes them (the padding bits dropped; ``c2dec`` gets them back re-padded), so the
measured bitrate is the codec's own rate: ``bitrate_convention = "codec frames, no container"``. The input is
zero-padded to a whole frame; the decoded output has the same number of samples as the padded input.

Delay: ``DELAY_SAMPLES`` below (about 16-25 ms), measured on real speech from energy envelopes; Codec 2 is a
vocoder (the output waveform does not follow the input's phase), so waveform metrics (SI-SNR) and the residual
lag ``mushra prepare`` estimates by cross-correlation mean little for it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable

#: mode name -> (bits per frame, samples per frame at 8 kHz)
MODES: dict[str, tuple[int, int]] = {
    "3200": (64, 160), "2400": (48, 160), "1600": (64, 320), "1400": (56, 320),
    "1300": (52, 320), "1200": (48, 320), "700C": (28, 320), "450": (18, 320),
}
KBPS_TO_MODE = {bits * 8000 / samples / 1000: mode for mode, (bits, samples) in MODES.items()}
RATE = 8000
#: output lag of c2enc+c2dec in samples at 8 kHz, per mode: the median over 4 real speech files of the lag that
#: best matches the short-time energy envelopes (8 ms windows, 1 ms steps). A vocoder does not keep the waveform,
#: so waveform cross-correlation gives no stable answer; the envelope estimate is good to about +-2 ms.
DELAY_SAMPLES: dict[str, int] = {"3200": 132, "2400": 144, "1600": 128, "1400": 128, "1300": 124, "1200": 136,
                                 "700C": 200, "450": 160}
TIMEOUT_S = 120.0
BITRATE_CONVENTION = "codec frames, no container (frame padding bits removed)"


@functools.lru_cache(maxsize=1)
def codec2_version() -> str:
    """The Debian package version of the tools (they print none themselves), e.g. ``"codec2 1.0.5-1"``."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "codec2"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"codec2 {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return "codec2 (version unknown)"


def _run(args: list[str], data: bytes) -> bytes:
    try:
        proc = subprocess.run(args, input=data, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CodecError(f"codec2: `{' '.join(args)}` did not finish in {TIMEOUT_S:g} s") from None
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise CodecError(f"codec2: `{' '.join(args)}` exited with {proc.returncode}: {' | '.join(tail)}")
    return proc.stdout


@register
class Codec2(Codec):
    """Codec 2 at one of its modes; ``kbps`` picks the mode (3.2 -> "3200", 0.7 -> "700C")."""

    name = "codec2"
    description = "Codec 2 (codec2 1.0 c2enc/c2dec): 8 kHz speech, 0.45-3.2 kbps"
    sample_rates = (RATE,)
    channel_options = (1,)
    bitrates = BitrateSpec(points=tuple(sorted(KBPS_TO_MODE)))
    bitrate_convention = BITRATE_CONVENTION

    def __init__(self, *, kbps: float, **options: Any) -> None:
        super().__init__(kbps=kbps)
        if options:
            raise CodecError(f"codec2: unknown option(s) {', '.join(sorted(options))}; it takes none "
                             "(kbps picks the mode)")
        self.mode = next(m for k, m in KBPS_TO_MODE.items() if abs(k - self.kbps) < 1e-6)
        self.frame_bits, self.frame_samples = MODES[self.mode]
        self.frame_bytes = -(-self.frame_bits // 8)

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        missing = [t for t in ("c2enc", "c2dec") if shutil.which(t) is None]
        if missing:
            return False, f"{' and '.join(missing)} not found on PATH: apt-get install codec2"
        return True, "ok"

    @property
    def delay_samples(self) -> int:
        return DELAY_SAMPLES[self.mode]

    def settings(self) -> dict[str, Any]:
        return {"mode": self.mode, "frame_bits": self.frame_bits, "frame_ms": 1000 * self.frame_samples / RATE}

    def versions(self) -> dict[str, str]:
        return {"codec2": codec2_version()}

    def encode(self, audio: np.ndarray) -> bytes:
        if audio.ndim != 2 or audio.shape[1] != 1:
            raise CodecError(f"codec2 codes mono (frames, 1) audio at 8 kHz, got shape {audio.shape}")
        if not shutil.which("c2enc"):
            raise CodecUnavailable("c2enc not found on PATH: apt-get install codec2")
        n = audio.shape[0]
        frames = -(-n // self.frame_samples)
        pcm = np.zeros(frames * self.frame_samples, dtype="<i2")
        pcm[:n] = np.clip(np.round(audio[:, 0] * 32768.0), -32768, 32767)
        raw = _run(["c2enc", self.mode, "-", "-"], pcm.tobytes())
        if len(raw) != frames * self.frame_bytes:
            raise CodecError(f"codec2: c2enc wrote {len(raw)} bytes for {frames} frames of {self.frame_bytes}")
        bits = np.unpackbits(np.frombuffer(raw, np.uint8).reshape(frames, self.frame_bytes), axis=1)
        return np.packbits(bits[:, : self.frame_bits].reshape(-1)).tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        frames = 8 * len(payload) // self.frame_bits
        if frames == 0 or -(-frames * self.frame_bits // 8) != len(payload):
            raise CodecError(f"codec2: a {len(payload)}-byte payload is not a whole number of {self.frame_bits}-bit "
                             f"frames (mode {self.mode}); truncated, or coded at another bitrate")
        bits = np.unpackbits(np.frombuffer(payload, np.uint8))[: frames * self.frame_bits]
        padded = np.zeros((frames, 8 * self.frame_bytes), dtype=np.uint8)
        padded[:, : self.frame_bits] = bits.reshape(frames, self.frame_bits)
        if not shutil.which("c2dec"):
            raise CodecUnavailable("c2dec not found on PATH: apt-get install codec2")
        pcm = np.frombuffer(_run(["c2dec", self.mode, "-", "-"], np.packbits(padded, axis=1).tobytes()), "<i2")
        return (pcm.astype(np.float32) / 32768.0)[:, None]
