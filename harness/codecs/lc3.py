"""LC3 (Bluetooth LE Audio, Bluetooth SIG LC3 1.0 / ETSI TS 103 634) through liblc3 (Google, Apache-2.0) with
the PyPI binding ``lc3py`` (it ships liblc3 inside the wheel; Debian ``liblc3-tools`` has the same library's
``elc3``/``dlc3``).

A frame of 10 ms (or 7.5 / 5 / 2.5 ms) carries 20..400 bytes, so at 10 ms LC3 runs from 16 to 320 kbps; 16 kbps is
its lowest rate (``LC3_MIN_FRAME_BYTES`` = 20). Any bitrate in that range is met **exactly on average**: the frame
sizes follow a fixed schedule (``floor`` of the running byte budget, e.g. 22, 23, 22, 23 ... bytes for 18 kbps at
10 ms), which the decoder recomputes from the configured bitrate, so the payload is the LC3 frames back to back
with no length fields and no file header (``bitrate_convention = "codec frames, no container"``; an ``elc3`` file
adds an 18-byte header and 2 bytes per frame).

The codec's sample rate (8/16/24/32/48 kHz) sets its audio bandwidth; option ``rate`` picks it, by default from
the bitrate the way the LE Audio presets do (below 32 kbps 16 kHz, below 48 kbps 24 kHz, below 64 kbps 32 kHz,
else 48 kHz). Delay: liblc3's ``lc3_delay_samples`` (2.5 ms for 10 ms frames), removed by the harness.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable

RATES = (48000, 32000, 24000, 16000, 8000)
FRAME_MS = (10.0, 7.5, 5.0, 2.5)
MIN_BYTES, MAX_BYTES = 20, 400  # liblc3 LC3_MIN_FRAME_BYTES / LC3_MAX_FRAME_BYTES
BITRATE_CONVENTION = "codec frames, no container (no file header, no per-frame length)"


def default_rate(kbps: float) -> int:
    """The codec sample rate (Hz) used when ``rate`` is not given: LE Audio's presets by bitrate."""
    for limit, rate in ((32.0, 16000), (48.0, 24000), (64.0, 32000)):
        if kbps < limit:
            return rate
    return 48000


@functools.lru_cache(maxsize=1)
def _lc3():
    try:
        import lc3
    except ImportError as exc:
        raise CodecUnavailable("the LC3 binding is missing: pip install lc3py") from exc
    return lc3


def frame_sizes(kbps: float, frame_ms: float, n_frames: int) -> np.ndarray:
    """Bytes of each of ``n_frames`` frames so that the total is ``floor(kbps * duration / 8)`` at every frame."""
    per_frame = kbps * frame_ms / 8.0  # bytes per frame on average
    edges = np.floor(per_frame * np.arange(n_frames + 1) + 1e-9).astype(np.int64)
    return np.diff(edges)


@register
class LC3Codec(Codec):
    """LC3 at any bitrate its frame sizes allow. Options: ``rate`` (Hz, default by bitrate), ``frame_ms`` (10)."""

    name = "lc3"
    description = "LC3 (liblc3 via lc3py): Bluetooth LE Audio codec, 16-320 kbps at 10 ms frames"
    sample_rates = RATES
    channel_options = (1,)
    bitrates = BitrateSpec(range=(16.0, 320.0))
    bitrate_convention = BITRATE_CONVENTION

    def __init__(self, *, kbps: float, rate: int | None = None, frame_ms: float = 10.0, **options: Any) -> None:
        super().__init__(kbps=kbps)
        if options:
            raise CodecError(f"lc3: unknown option(s) {', '.join(sorted(options))}; it takes rate and frame_ms")
        if float(frame_ms) not in FRAME_MS:
            raise CodecError(f"lc3: frame_ms must be one of {', '.join(f'{f:g}' for f in FRAME_MS)}, got {frame_ms}")
        self.frame_ms = float(frame_ms)
        lo, hi = MIN_BYTES * 8 / self.frame_ms, MAX_BYTES * 8 / self.frame_ms
        if not lo - 1e-9 <= self.kbps <= hi + 1e-9:
            raise CodecError(f"lc3: {self.kbps:g} kbps needs {self.kbps * self.frame_ms / 8:g} bytes per "
                             f"{self.frame_ms:g} ms frame; LC3 allows {MIN_BYTES}-{MAX_BYTES} "
                             f"({lo:g}-{hi:g} kbps at this frame length)")
        self._rate = int(rate) if rate is not None else default_rate(self.kbps)
        if self._rate not in RATES:
            raise CodecError(f"lc3: rate must be one of {', '.join(map(str, RATES))} Hz, got {rate}")
        self.options = {"rate": self._rate, "frame_ms": self.frame_ms}
        self._frame_us = int(round(self.frame_ms * 1000))
        self._enc = self._dec = None

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        try:
            _lc3()
        except CodecUnavailable as exc:
            return False, str(exc)
        return True, "ok"

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _encoder(self):
        if self._enc is None:
            self._enc = _lc3().Encoder(self._frame_us, self._rate)
        return self._enc

    def _decoder(self):
        if self._dec is None:
            self._dec = _lc3().Decoder(self._frame_us, self._rate)
        return self._dec

    @property
    def delay_samples(self) -> int:
        return int(self._encoder().get_delay_samples())

    def settings(self) -> dict[str, Any]:
        return dict(self.options)

    def versions(self) -> dict[str, str]:
        from importlib import metadata

        try:
            return {"lc3py": metadata.version("lc3py"), "liblc3": "bundled with lc3py"}
        except metadata.PackageNotFoundError:  # pragma: no cover
            return {"lc3py": "unknown"}

    def reset(self) -> None:
        self._enc = self._dec = None  # liblc3 has no reset call: a new state per file

    def encode(self, audio: np.ndarray) -> bytes:
        if audio.ndim != 2 or audio.shape[1] != 1:
            raise CodecError(f"lc3 codes mono (frames, 1) audio, got shape {audio.shape}")
        enc = self._encoder()
        step = enc.get_frame_samples()
        n_frames = -(-audio.shape[0] // step)
        x = np.zeros(n_frames * step, dtype=np.float32)
        x[: audio.shape[0]] = np.clip(audio[:, 0], -1.0, 1.0)
        sizes = frame_sizes(self.kbps, self.frame_ms, n_frames)
        return b"".join(enc.encode(x[i * step:(i + 1) * step], int(nb)) for i, nb in enumerate(sizes))

    def decode(self, payload: bytes) -> np.ndarray:
        dec = self._decoder()
        per_frame = self.kbps * self.frame_ms / 8.0
        n_frames = int(np.ceil(len(payload) / per_frame - 1e-9))  # total = floor(per_frame * n)
        sizes = frame_sizes(self.kbps, self.frame_ms, n_frames)
        if n_frames == 0 or int(sizes.sum()) != len(payload):
            raise CodecError(f"lc3: a {len(payload)}-byte payload is not a whole number of frames at "
                             f"{self.kbps:g} kbps / {self.frame_ms:g} ms; truncated, or coded at another bitrate")
        out, pos = [], 0
        for nb in sizes:
            out.append(np.asarray(dec.decode(payload[pos:pos + int(nb)]), dtype=np.float32))
            pos += int(nb)
        return np.concatenate(out)[:, None]
