"""Audio I/O and the signal steps every stimulus goes through: read, validate, resample, cut, fade, loudness.

Arrays are float32 ``(frames, channels)`` in [-1, 1]. Loudness is integrated loudness per ITU-R BS.1770-4
(K-weighting, gating) in LUFS, computed with pyloudnorm. Resampling uses soxr at very high quality ("VHQ").
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.errors import AudioError
from harness.files import AUDIO_SUFFIXES

SUPPORTED_SUFFIXES = AUDIO_SUFFIXES  # what soundfile reads, plus MP3 (see harness.files)
SILENCE_DBFS = -70.0  # a file whose RMS is below this is treated as silent
CLIP_LEVEL = 0.9999


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC/OGG/AIFF file as float32 ``(frames, channels)`` and its sample rate (Hz)."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: file not found. Check the path (relative paths are relative to the study file).")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, expected an audio file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises RuntimeError/LibsndfileError with terse messages
        raise AudioError(
            f"{p}: cannot read audio ({exc}). Use an uncorrupted WAV or FLAC file "
            "(e.g. re-export it, or convert with `sox in.xxx out.wav`)."
        ) from exc
    if data.shape[0] == 0:
        raise AudioError(f"{p}: contains no samples")
    _check_complete(p, data.shape[0], int(sr))
    return np.ascontiguousarray(data), int(sr)


_DATA_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_UNKNOWN_LENGTH = (0, 0xFFFFFFFF)  # streamed WAVs write these when the length was not known


def _check_complete(p: Path, frames: int, sample_rate: int) -> None:
    """A WAV whose header promises more audio than the file holds (an interrupted copy or download) is an error:
    libsndfile would read it silently truncated."""
    if p.suffix.lower() not in (".wav", ".wave"):
        return
    try:
        extra = sf.info(str(p)).extra_info
    except Exception:  # noqa: BLE001 - the file was just read; no header details to check
        return
    m = _DATA_CHUNK.search(extra)
    if m and int(m.group(1)) > int(m.group(2)) and int(m.group(1)) not in _UNKNOWN_LENGTH:
        promised, present = int(m.group(1)), int(m.group(2))
        raise AudioError(
            f"{p}: truncated: its header promises {promised} bytes of audio but the file holds {present} "
            f"({frames / sample_rate:.2f} s readable, about {100 * present / promised:.0f} %). Copy or download "
            "it again, or, if the shorter audio is what you want, rewrite it (e.g. `sox in.wav out.wav`).")


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, *, subtype: str = "PCM_16") -> None:
    """Write float audio to WAV/FLAC (16-bit PCM by default), creating parent folders. Values are clipped."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    tmp = p.with_name(p.name + ".part")
    sf.write(str(tmp), data, int(sample_rate), subtype=subtype, format=_format_for(p))
    tmp.replace(p)  # atomic: an interrupted run never leaves a half-written stimulus


def _format_for(p: Path) -> str:
    suffix = p.suffix.lower()
    return {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(suffix, "WAV")


def validate_audio(audio: np.ndarray, sample_rate: int, *, source: str = "audio",
                   min_duration: float = 0.0, channels: int | None = None) -> None:
    """Raise :class:`AudioError` for unusable audio; warn (``UserWarning``) for usable but suboptimal audio.

    Errors: not 2-D, NaN/Inf, silence (RMS below -70 dBFS), shorter than ``min_duration`` seconds, channel
    count that cannot be mapped to ``channels`` (mono up-mixes to any count; any count down-mixes to mono).
    Warnings: clipping (samples at full scale), down-mixing to mono.
    """
    if audio.ndim != 2:
        raise AudioError(f"{source}: expected (frames, channels) audio, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise AudioError(f"{source}: contains {bad} NaN/Inf samples; the file is corrupt. Re-export it.")
    duration = audio.shape[0] / sample_rate
    if duration < min_duration:
        raise AudioError(
            f"{source}: is {duration:.2f} s long, shorter than the {min_duration:g} s needed. "
            "Use a longer excerpt or lower the study's excerpt duration."
        )
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms == 0.0 or 20 * math.log10(rms) < SILENCE_DBFS:
        raise AudioError(f"{source}: is silent (RMS below {SILENCE_DBFS:g} dBFS); a listening test needs signal.")
    if channels is not None and audio.shape[1] not in (1, channels):
        if channels != 1:
            raise AudioError(
                f"{source}: has {audio.shape[1]} channels but the study uses {channels}; only mono sources can be "
                "up-mixed and only to mono can be down-mixed. Convert the file or change the study's channels."
            )
        warnings.warn(f"{source}: {audio.shape[1]} channels are averaged to mono for this mono study", UserWarning,
                      stacklevel=2)
    clipped = int(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL))
    if clipped > 0:
        warnings.warn(f"{source}: {clipped} samples at full scale (clipping); results may suffer", UserWarning,
                      stacklevel=2)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``(frames, channels)`` audio with soxr VHQ; returns float32. No-op when the rates match."""
    if int(sr_in) == int(sr_out):
        return np.asarray(audio, dtype=np.float32)
    import soxr

    out = soxr.resample(np.asarray(audio, dtype=np.float32), int(sr_in), int(sr_out), quality="VHQ")
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out, dtype=np.float32)


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Map to ``channels``: mono is duplicated, multichannel down-mixed to mono by averaging."""
    have = audio.shape[1]
    if have == channels:
        return audio
    if have == 1:
        return np.repeat(audio, channels, axis=1)
    if channels == 1:
        return audio.mean(axis=1, keepdims=True, dtype=np.float32)
    raise AudioError(f"cannot map {have} channels to {channels}")


def raised_cosine_fade(audio: np.ndarray, sample_rate: int, fade_ms: float) -> np.ndarray:
    """Apply raised-cosine fade-in and fade-out of ``fade_ms`` milliseconds (copy)."""
    n = int(round(sample_rate * fade_ms / 1000.0))
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(n, out.shape[0] // 2)
    if n <= 0:
        return out
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)[:, None]
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def excerpt(audio: np.ndarray, sample_rate: int, *, start: float = 0.0, duration: float | None = None,
            source: str = "audio") -> np.ndarray:
    """Cut ``[start, start+duration)`` seconds. Raises if the excerpt runs past the end of the file."""
    total = audio.shape[0] / sample_rate
    if start < 0:
        raise AudioError(f"{source}: excerpt start {start:g} s is negative")
    a = int(round(start * sample_rate))
    if duration is None:
        b = audio.shape[0]
    else:
        b = a + int(round(duration * sample_rate))
        if b > audio.shape[0] + 1:
            raise AudioError(
                f"{source}: excerpt {start:g}-{start + duration:g} s runs past the end of the file ({total:.2f} s). "
                "Shorten the excerpt or move its start."
            )
        b = min(b, audio.shape[0])
    if b - a <= 0:
        raise AudioError(f"{source}: excerpt starting at {start:g} s is empty (file is {total:.2f} s)")
    return np.ascontiguousarray(audio[a:b])


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) in LUFS; ``-inf`` for signals below the absolute gate."""
    import pyloudnorm

    x = np.asarray(audio, dtype=np.float64)
    block = 0.4
    if x.shape[0] < int(block * sample_rate):  # pyloudnorm needs one 400 ms gating block
        x = np.pad(x, ((0, int(block * sample_rate) - x.shape[0]), (0, 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pyloudnorm.Meter(sample_rate, block_size=block).integrated_loudness(x))


def peak_dbfs(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def gain_to_target(audio: np.ndarray, sample_rate: int, *, target_lufs: float, peak_ceiling_dbfs: float = -1.0
                   ) -> tuple[float, float]:
    """Linear gain bringing ``audio`` to ``target_lufs``, and its loudness before the gain (LUFS).

    The gain is limited so the peak stays at or below ``peak_ceiling_dbfs`` (the peak guard); callers that need
    equal loudness across an item's stimuli apply one common reduction (see :func:`harness.prepare.stimuli`).
    """
    lufs = loudness_lufs(audio, sample_rate)
    if not math.isfinite(lufs):
        raise AudioError("cannot loudness-normalise a signal below the BS.1770 absolute gate (-70 LUFS)")
    return 10 ** ((target_lufs - lufs) / 20.0), lufs


def _gcc_phat(reference: np.ndarray, degraded: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate lags ``-max_lag..max_lag`` and their GCC-PHAT values (empty when either signal is silent)."""
    r = np.asarray(reference, dtype=np.float64)
    d = np.asarray(degraded, dtype=np.float64)
    r = r.mean(axis=1) if r.ndim == 2 else r
    d = d.mean(axis=1) if d.ndim == 2 else d
    n = min(r.shape[0], d.shape[0])
    r, d = r[:n] - r[:n].mean(), d[:n] - d[:n].mean()
    if n < 2 or not np.any(r) or not np.any(d):
        return np.zeros(0, dtype=int), np.zeros(0)
    max_lag = max(1, min(n - 1, int(max_lag)))
    size = 1 << int(np.ceil(np.log2(n + max_lag)))  # no wrap-around for |lag| <= max_lag
    R, D = np.fft.rfft(r, size), np.fft.rfft(d, size)
    pr, pd = np.abs(R) ** 2, np.abs(D) ** 2
    keep = (pr > 1e-6 * pr.max()) & (pd > 1e-6 * pd.max())
    cross = D * np.conj(R)
    w = np.where(keep, 1.0 / np.maximum(np.abs(cross), 1e-300), 0.0)
    xc = np.fft.irfft(cross * w, size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[size - max_lag:]])
    return lags, vals


def estimate_lag(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 50.0
                 ) -> int:
    """Lag of ``degraded`` behind ``reference`` in samples (positive: degraded is late).

    Generalised cross-correlation with phase transform (GCC-PHAT, Knapp & Carter 1976): the cross-spectrum is
    whitened so every frequency band votes equally, which keeps bass-heavy or tonal music from giving a broad,
    biased peak (plain cross-correlation put Opus-coded music 10 ms off). Only bins where both signals carry
    energy (within 60 dB of their peaks) take part, so band-limited codec output is handled. Inputs are
    ``(frames, channels)`` (channels averaged) or 1-D; the search is limited to +-``max_lag_ms``; 0 for silence.
    """
    lags, vals = _gcc_phat(reference, degraded, int(round(sample_rate * max_lag_ms / 1000.0)))
    return int(lags[int(np.argmax(vals))]) if lags.size else 0


@dataclasses.dataclass(frozen=True)
class LagEstimate:
    """``lag`` in samples (positive: degraded is late); ``inverted``: the peak is negative (polarity flipped)."""
    lag: int
    inverted: bool


def estimate_lag_polarity(*, reference: np.ndarray, degraded: np.ndarray, max_lag: int) -> LagEstimate:
    """:func:`estimate_lag`'s GCC-PHAT, taking the largest peak of either sign (``max_lag`` in samples), so an
    output with inverted polarity is aligned too and reported as such."""
    lags, vals = _gcc_phat(reference, degraded, max_lag)
    if not lags.size:
        return LagEstimate(0, False)
    i = int(np.argmax(np.abs(vals)))
    return LagEstimate(int(lags[i]), bool(vals[i] < 0))


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
                   ) -> np.ndarray:
    """Triangular mel filters on the HTK mel scale (mel = 2595 log10(1 + f/700)), each peaking at 1, so mel
    values stay in STFT-magnitude units; float64, shape ``(n_mels, n_fft // 2 + 1)``. ``fmax`` defaults to Nyquist.
    Used by the mel-distance metric and by SoundStream's multi-scale spectral loss."""
    fmax = fmax or sample_rate / 2

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(up, down))
