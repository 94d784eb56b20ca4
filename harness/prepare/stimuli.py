"""Signal steps of stimulus generation: the reference excerpt, one condition's stimulus, loudness alignment
of an item's stimuli with a peak guard, and the residual lag check.

Loudness is integrated loudness per ITU-R BS.1770-4 (pyloudnorm). Lag is measured by cross-correlation against
the reference excerpt (:func:`harness.audio.estimate_lag`); positive lag means the stimulus is late.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.audio import (
    estimate_lag, excerpt, loudness_lufs, match_channels, peak_dbfs, raised_cosine_fade, read_audio, resample,
    validate_audio,
)
from harness.errors import AudioError

MIN_EXCERPT_S = 1.0  # shorter excerpts make no sense in a MUSHRA loop (BS.1534-3 loops are >= 500 ms)
LAG_WARN_MS = 1.0


def reference_excerpt(*, file: str, item_id: str, start: float, duration: float | None, excerpt_seconds: float,
                      sample_rate: int, channels: int, fade_ms: float) -> np.ndarray:
    """Read, validate, resample (soxr VHQ), map channels, cut ``[start, start+duration)`` and fade.

    ``duration=None`` takes ``excerpt_seconds`` or, for a shorter file, everything after ``start``.
    """
    audio, sr = read_audio(file)
    source = f"item '{item_id}' ({file})"
    validate_audio(audio, sr, source=source, min_duration=min(MIN_EXCERPT_S, duration or MIN_EXCERPT_S),
                   channels=channels)
    audio = match_channels(resample(audio, sr, sample_rate), channels)
    if duration is None:
        duration = min(excerpt_seconds, audio.shape[0] / sample_rate - start)
        if duration <= 0:
            raise AudioError(f"{source}: start {start:g} s is at or past the end of the file "
                             f"({audio.shape[0] / sample_rate:.2f} s)")
    cut = excerpt(audio, sample_rate, start=start, duration=duration, source=source)
    if cut.shape[0] < MIN_EXCERPT_S * sample_rate:
        raise AudioError(f"{source}: the excerpt is {cut.shape[0] / sample_rate:.2f} s long; at least "
                         f"{MIN_EXCERPT_S:g} s is needed. Use a longer file or excerpt.")
    validate_audio(cut, sample_rate, source=f"{source} excerpt at {start:g} s")
    return raised_cosine_fade(cut, sample_rate, fade_ms)


def codec_instance(codec: str, kbps: float, options: dict[str, Any]):
    """The process-wide codec instance (see :func:`harness.codecs.shared_codec`)."""
    from harness.codecs import shared_codec

    return shared_codec(codec, kbps=kbps, options=options)


def render(reference: np.ndarray, sample_rate: int, *, kind: str, anchor: str | None = None,
           codec: str | None = None, kbps: float | None = None, options: dict[str, Any] | None = None
           ) -> tuple[np.ndarray, dict[str, Any]]:
    """One condition's stimulus (before loudness alignment) and its record fields."""
    if kind == "reference":
        return reference, {}
    if kind == "anchor":
        from harness.prepare.anchors import anchor_filter, make_anchor

        return make_anchor(reference, sample_rate, anchor), {"settings": anchor_filter(anchor, sample_rate).describe()}
    import warnings

    from harness.codecs import transcode

    with warnings.catch_warnings(record=True) as caught:  # kept with the result: the parent reports them
        warnings.simplefilter("always")
        res = transcode(codec_instance(codec, kbps, dict(options or {})), reference, sample_rate)
    rec = res.record()
    return res.audio, {"measured_kbps": rec["measured_kbps"], "delay_removed_samples": rec["delay_removed_samples"],
                       "settings": {**rec["settings"], "codec_sample_rate": rec["codec_sample_rate"],
                                    "resampler": rec["resampler"]},
                       "versions": rec["versions"], "payload_bytes": rec["payload_bytes"],
                       "warnings": [str(w.message) for w in caught]}


def align_loudness(stimuli: dict[str, np.ndarray], sample_rate: int, *, target_lufs: float,
                   peak_ceiling_dbfs: float, item_id: str = "item") -> tuple[dict[str, float], float, list[str]]:
    """Gains (dB) that bring every stimulus of an item to the same loudness, the loudness reached (LUFS) and
    warnings. Peak guard: if any stimulus would peak above ``peak_ceiling_dbfs`` at ``target_lufs``, the target
    is lowered for the whole item by the excess, so the stimuli stay equally loud."""
    before = {}
    for cid, audio in stimuli.items():
        lufs = loudness_lufs(audio, sample_rate)
        if not math.isfinite(lufs):
            raise AudioError(f"item '{item_id}', condition '{cid}': the stimulus is silent (below the BS.1770 "
                             "gate); the codec produced no usable audio. Check the condition's settings.")
        before[cid] = lufs
    peaks = {cid: peak_dbfs(a) + (target_lufs - before[cid]) for cid, a in stimuli.items()}
    excess = max(peaks.values()) - peak_ceiling_dbfs
    target, warns = target_lufs, []
    if excess > 0:
        target = target_lufs - excess
        worst = max(peaks, key=peaks.get)
        warns.append(f"item '{item_id}': '{worst}' would peak at {peaks[worst]:+.1f} dBFS at {target_lufs:g} LUFS; "
                     f"all its stimuli were set to {target:.1f} LUFS instead (peak ceiling {peak_ceiling_dbfs:g} dBFS)")
    return {cid: target - lufs for cid, lufs in before.items()}, target, warns


def residual_lag_ms(reference: np.ndarray, stimulus: np.ndarray, sample_rate: int) -> float:
    """Lag of ``stimulus`` behind ``reference`` in ms (cross-correlation, +-50 ms search)."""
    return 1000.0 * estimate_lag(reference=reference, degraded=stimulus, sample_rate=sample_rate) / sample_rate


def correlation_at_lag(reference: np.ndarray, stimulus: np.ndarray, lag: int) -> float:
    """Pearson correlation of the channel-averaged signals with ``stimulus`` shifted back by ``lag`` samples.

    Near 1 for a coded version of the reference; near 0 when the stimulus does not resemble it, in which case a
    measured lag means little."""
    r = np.asarray(reference, dtype=np.float64).mean(axis=1)
    d = np.asarray(stimulus, dtype=np.float64).mean(axis=1)
    if lag > 0:
        r, d = r[: len(r) - lag], d[lag:]
    elif lag < 0:
        r, d = r[-lag:], d[: len(d) + lag]
    r, d = r - r.mean(), d - d.mean()
    denom = float(np.sqrt(np.dot(r, r) * np.dot(d, d)))
    return float(np.dot(r, d) / denom) if denom > 0 else 0.0
