"""The small codec interface every adapter implements, and the generic transcode path.

An adapter is a subclass of :class:`Codec` configured for one operating point (``kbps``) and its options.
It works at its own native sample rate and channel count; :func:`transcode` does the rest the same way for
every codec: resample to the codec's rate (soxr, very high quality), encode, *measure* the bitrate from the
payload, decode, remove the codec's algorithmic delay so the output is sample-aligned with the input, and
resample back to the caller's rate.

Audio arrays are ``float32`` of shape ``(frames, channels)`` in [-1, 1] (the soundfile convention).
"""

from __future__ import annotations

import abc
import dataclasses
import math
import warnings
from typing import Any, ClassVar, Mapping

import numpy as np

from harness.errors import HarnessError

RESAMPLER = "soxr VHQ"
# A decoder may return up to one frame less than it was given (the last partial frame); more is lost audio.
MAX_SHORTFALL_S = 0.05  # seconds
MAX_SHORTFALL_FRACTION = 0.01  # of the input's length
# warn when measured/nominal bitrate leaves this range (VBR codecs undershoot on pauses by design; a codec that
# spends far more bits than its nominal rate would be compared unfairly)
BITRATE_WARN_RATIO = (0.5, 1.25)


class CodecError(HarnessError):
    """A codec could not be configured or could not process the audio."""


class UnsupportedBitrate(CodecError):
    """The requested bitrate is not an operating point of the codec."""


class CodecUnavailable(CodecError):
    """The codec cannot run on this machine (missing library, weights or model files)."""


class BitrateWarning(UserWarning):
    """The measured bitrate of a codec's output is far from its nominal bitrate."""


@dataclasses.dataclass(frozen=True)
class BitrateSpec:
    """Bitrates a codec supports, in kbps: exact operating points, or a continuous range, or both.

    ``points`` are exact operating points (e.g. EnCodec 1.5/3/6/12/24). ``range`` is an inclusive
    ``(low, high)`` interval for codecs with a continuous rate control (e.g. Opus 6-510).
    """

    points: tuple[float, ...] = ()
    range: tuple[float, float] | None = None

    def supports(self, kbps: float) -> bool:
        if self.range is not None and self.range[0] - 1e-9 <= kbps <= self.range[1] + 1e-9:
            return True
        return any(math.isclose(kbps, p, rel_tol=1e-6, abs_tol=1e-9) for p in self.points)

    def nearest(self, kbps: float, count: int = 2) -> list[float]:
        """The supported bitrates closest to ``kbps`` (range ends count as points)."""
        candidates = set(self.points)
        if self.range is not None:  # the range's end nearer to kbps (the far end is never a useful hint)
            lo, hi = self.range
            candidates.add(lo if abs(kbps - lo) <= abs(kbps - hi) else hi)
        return sorted(sorted(candidates, key=lambda p: (abs(p - kbps), p))[:count])

    def describe(self) -> str:
        parts = []
        if self.points:
            parts.append("/".join(f"{p:g}" for p in self.points) + " kbps")
        if self.range is not None:
            parts.append(f"{self.range[0]:g}-{self.range[1]:g} kbps")
        return " or ".join(parts) or "none"

    def check(self, codec_name: str, kbps: float) -> None:
        """Raise :class:`UnsupportedBitrate` naming the nearest supported points if ``kbps`` is not supported."""
        if not self.supports(kbps):
            near = ", ".join(f"{p:g}" for p in self.nearest(kbps))
            raise UnsupportedBitrate(
                f"codec '{codec_name}' cannot run at {kbps:g} kbps; it supports {self.describe()}. "
                f"Nearest supported: {near} kbps. Change the condition's kbps to one of those."
            )

    def ladder_points(self, ladder: list[float]) -> list[float]:
        """The rungs of a bitrate ladder (kbps) this codec can do exactly."""
        return [k for k in ladder if self.supports(k)]


class Codec(abc.ABC):
    """One codec at one operating point.

    Subclasses set the class attributes and implement :meth:`encode` / :meth:`decode`. The constructor takes
    keyword-only ``kbps`` plus codec-specific options and must raise :class:`UnsupportedBitrate` or
    :class:`CodecError` for settings the codec cannot do. Heavy models should be cached per process (one load
    per worker), not per instance or per file.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: native sample rates (Hz) the codec can run at; the first is the default
    sample_rates: ClassVar[tuple[int, ...]]
    #: channel counts the codec can code
    channel_options: ClassVar[tuple[int, ...]] = (1,)
    #: top-level modules it needs beyond the base install (see :mod:`harness.extras`), e.g. ``("torch",)``
    requires: ClassVar[tuple[str, ...]] = ()
    bitrates: ClassVar[BitrateSpec]
    #: what the measured bitrate counts, recorded with every result (e.g. container overhead or not)
    bitrate_convention: ClassVar[str] = "every payload byte counted, no container"

    def __init__(self, *, kbps: float, **options: Any) -> None:
        self.bitrates.check(self.name, float(kbps))
        self.kbps = float(kbps)
        self.options: dict[str, Any] = dict(options)

    # --- what the adapter tells the harness -------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The rate (Hz) :meth:`encode` expects and :meth:`decode` returns."""
        return self.sample_rates[0]

    @property
    def channels(self) -> int:
        return self.channel_options[0]

    @property
    def delay_samples(self) -> int:
        """Algorithmic delay of encode+decode at :attr:`sample_rate`, in samples (output lags input by this)."""
        return 0

    def settings(self) -> dict[str, Any]:
        """Every option that changes the output, for the manifest (defaults filled in)."""
        return dict(self.options)

    def versions(self) -> dict[str, str]:
        """Versions of the libraries/models that produced the output, e.g. ``{"libopus": "1.3.1"}``."""
        return {}

    @classmethod
    def cache_identity(cls, *, kbps: float, options: Mapping[str, Any]) -> dict[str, Any] | None:
        """Everything that determines this codec's output, found without building the codec (no model load, no
        heavy import), for cache keys: an unchanged ``prepare`` re-run then never loads a model. ``None`` (the
        default): the harness builds the codec and uses :meth:`settings` and :meth:`versions`."""
        return None

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        """``(usable, reason)``: whether the codec can run here with these ``options`` (a condition's options,
        e.g. a weights path), and if not, what to do about it. Called with no options it answers for the
        defaults, which is what ``mushra codecs`` shows."""
        return True, "ok"

    def payload_bits(self, payload: bytes) -> int:
        """Bits of coded audio in ``payload`` (framing we add for our own storage is excluded)."""
        return 8 * len(payload)

    # --- the work ------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, audio: np.ndarray) -> bytes:
        """Encode float32 ``(frames, channels)`` audio at :attr:`sample_rate` to the payload bytes."""

    @abc.abstractmethod
    def decode(self, payload: bytes) -> np.ndarray:
        """Decode a payload to float32 ``(frames, channels)`` audio at :attr:`sample_rate` (delay not removed)."""

    def reset(self) -> None:
        """Forget stream state so the next :meth:`encode` starts a new file. Stateless codecs do nothing."""


@dataclasses.dataclass(frozen=True)
class CodecResult:
    """The outcome of coding one signal: decoded audio aligned with the input, and every number about it."""

    codec: str
    nominal_kbps: float
    measured_kbps: float
    payload_bytes: int
    duration_s: float
    codec_sample_rate: int
    delay_removed_samples: int  # at the codec's rate
    audio: np.ndarray = dataclasses.field(repr=False)  # at the caller's rate, same shape as the input
    sample_rate: int
    settings: Mapping[str, Any]
    versions: Mapping[str, str]
    resampler: str = RESAMPLER

    def record(self) -> dict[str, Any]:
        """JSON-ready description (everything but the audio)."""
        out = dataclasses.asdict(self)
        out.pop("audio")
        out["settings"] = dict(self.settings)
        out["versions"] = dict(self.versions)
        return out


def _aligned(codec: Codec, y: np.ndarray, *, delay: int, frames: int) -> np.ndarray:
    """The decoded ``y`` with the codec's delay removed, ``frames`` long. Up to one frame short is padded (the last
    partial frame of a frame-based codec); more is lost audio and an error, never hidden by silence."""
    y = y[delay : delay + frames]
    short = frames - y.shape[0]
    if short > max(MAX_SHORTFALL_S * codec.sample_rate, MAX_SHORTFALL_FRACTION * frames):
        raise CodecError(
            f"codec '{codec.name}' at {codec.kbps:g} kbps decoded {y.shape[0] / codec.sample_rate:.3f} s of a "
            f"{frames / codec.sample_rate:.3f} s input ({delay} samples of delay removed): its decoder lost "
            "audio. Check the adapter's decode() (and delay_samples); the output is not padded with silence.")
    if short > 0:
        y = np.concatenate([y, np.zeros((short, y.shape[1]), dtype=np.float32)])
    return y


def codec_availability(cls: type[Codec], **options: Any) -> tuple[bool, str]:
    """``(usable, reason)``: the modules of :attr:`Codec.requires` are installed (else the reason names the
    extra to install), then the adapter's own :meth:`Codec.availability`."""
    from harness.extras import installed, missing_extra_message

    for module in cls.requires:
        if not installed(module):
            return False, (missing_extra_message(module, purpose=f"codec '{cls.name}'")
                           or f"codec '{cls.name}' needs the Python package '{module}'")
    return cls.availability(**options)


def transcode(codec: Codec, audio: np.ndarray, sample_rate: int) -> CodecResult:
    """Run ``audio`` (float32 ``(frames, channels)`` at ``sample_rate`` Hz) through ``codec``.

    The result has the input's length, rate and channel count and is aligned with it: the codec's
    :attr:`~Codec.delay_samples` are cut from the start (the input is padded with that many zeros at the end
    so nothing is lost). The measured bitrate is ``payload_bits / duration`` of the *input* duration.
    """
    from harness.audio import match_channels, resample  # local: audio imports heavy deps lazily

    if audio.ndim != 2:
        raise CodecError(f"audio must be 2-D (frames, channels), got shape {audio.shape}")
    n_in, ch_in = audio.shape
    if n_in == 0:
        raise CodecError("cannot code an empty signal")
    duration = n_in / float(sample_rate)
    x = resample(audio, sample_rate, codec.sample_rate)
    x = match_channels(x, codec.channels)
    n_codec = x.shape[0]
    delay = int(codec.delay_samples)
    if delay:
        x = np.concatenate([x, np.zeros((delay, x.shape[1]), dtype=np.float32)])
    codec.reset()
    payload = codec.encode(np.ascontiguousarray(x, dtype=np.float32))
    codec.reset()
    y = codec.decode(payload)
    codec.reset()
    if y.ndim == 1:
        y = y[:, None]
    y = _aligned(codec, y, delay=delay, frames=n_codec)
    y = match_channels(y.astype(np.float32, copy=False), ch_in)
    y = resample(y, codec.sample_rate, sample_rate)
    if y.shape[0] != n_in:  # resampler rounding: at most a sample or two
        y = y[:n_in] if y.shape[0] > n_in else np.pad(y, ((0, n_in - y.shape[0]), (0, 0)))
    bits = codec.payload_bits(payload)
    measured = bits / duration / 1000.0
    if not BITRATE_WARN_RATIO[0] <= measured / codec.kbps <= BITRATE_WARN_RATIO[1]:
        warnings.warn(f"codec '{codec.name}' at a nominal {codec.kbps:g} kbps measured {measured:.2f} kbps "
                      f"({100 * (measured / codec.kbps - 1):+.0f} %) on {duration:.2f} s of audio; report the "
                      "measured bitrate (the nominal one does not describe this output)", BitrateWarning,
                      stacklevel=2)
    return CodecResult(
        codec=codec.name,
        nominal_kbps=codec.kbps,
        measured_kbps=measured,
        payload_bytes=len(payload),
        duration_s=duration,
        codec_sample_rate=codec.sample_rate,
        delay_removed_samples=delay,
        audio=np.ascontiguousarray(y, dtype=np.float32),
        sample_rate=sample_rate,
        settings={**codec.settings(), "bitrate_convention": codec.bitrate_convention},
        versions=codec.versions(),
    )

