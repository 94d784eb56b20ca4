"""ITU-R BS.1534-3 low-pass anchors, zero-phase, at any sample rate.

BS.1534-3 (section 5.1) specifies the low anchor as the reference low-pass filtered at 3.5 kHz and the mid
anchor at 7 kHz. Spec met here, measured on the actual response in ``tests/test_anchors.py``:

- ``lp3.5``: passband ripple <= 0.1 dB up to 3.5 kHz, >= 25 dB attenuation at 4 kHz, >= 50 dB at 4.5 kHz;
- ``lp7``:   the same shape scaled by 2: ripple <= 0.1 dB to 7 kHz, >= 25 dB at 8 kHz, >= 50 dB at 9 kHz.

Design: a Kaiser-window linear-phase FIR (odd length, symmetric) with its passband edge at the cut-off and its
stopband edge at ``cutoff * 1.125`` (3.9375 kHz / 7.875 kHz), ``STOPBAND_DB`` = 70 dB of stopband attenuation,
so it is >= 70 dB down already at 4 kHz / 8 kHz (well past the 25 / 50 dB required) and its passband ripple is
about 0.003 dB. It is applied centred (the (N-1)/2-sample group delay is removed exactly), which makes the whole
operation zero-phase: the anchor is sample-aligned with the reference.

Low sample rates: where a stopband frequency lies at or above Nyquist (``lp7`` at 16 kHz: 9 kHz > 8 kHz, and
8 kHz is Nyquist) there is nothing to attenuate there; the filter still meets the spec at every frequency that
exists. Where even the passband edge is at or above Nyquist (``lp7`` at <= 14 kHz) the anchor would equal the
reference, and :func:`anchor_filter` raises :class:`~harness.errors.AudioError`.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from harness.errors import AudioError
from harness.vocabulary import ANCHOR_CUTOFF_HZ

ANCHOR_CUTOFFS_HZ = ANCHOR_CUTOFF_HZ  # BS.1534-3 section 4.1
STOPBAND_RATIO = 1.125  # stopband edge / cut-off
STOPBAND_DB = 70.0


@dataclasses.dataclass(frozen=True)
class AnchorFilter:
    name: str
    sample_rate: int
    cutoff_hz: float
    stopband_hz: float
    taps: np.ndarray = dataclasses.field(repr=False)

    def describe(self) -> dict:
        """For the manifest: how the anchor was made."""
        return {"name": self.name, "cutoff_hz": self.cutoff_hz, "stopband_edge_hz": self.stopband_hz,
                "design": f"Kaiser FIR, {len(self.taps)} taps, {STOPBAND_DB:g} dB stopband, applied centred "
                          "(zero-phase)", "standard": "ITU-R BS.1534-3"}


DESIGN = "kaiser-fir-centred-v2"  # change when the design changes: it is part of the cache key


def anchor_identity(name: str, sample_rate: int) -> dict:
    """Everything that determines anchor ``name`` at ``sample_rate`` (cheap: no filter design, no scipy)."""
    if name not in ANCHOR_CUTOFFS_HZ:
        raise AudioError(f"unknown anchor {name!r}; anchors are {', '.join(ANCHOR_CUTOFFS_HZ)}")
    return {"anchor": name, "cutoff_hz": ANCHOR_CUTOFFS_HZ[name], "stopband_ratio": STOPBAND_RATIO,
            "stopband_db": STOPBAND_DB, "design": DESIGN, "sample_rate": int(sample_rate)}


def kaiser_design(stopband_db: float, width: float) -> tuple[int, float]:
    """Taps and Kaiser beta for ``stopband_db`` attenuation and a transition ``width`` (fraction of Nyquist).

    Kaiser's formulas (Oppenheim & Schafer, Discrete-Time Signal Processing, eq. 7.62-7.63), as scipy's
    ``kaiserord``: beta = 0.1102 (A - 8.7) for A > 50; N = (A - 7.95) / (2.285 pi width) + 1."""
    a = float(stopband_db)
    beta = 0.1102 * (a - 8.7) if a > 50 else (0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21) if a > 21 else 0.0)
    return int(math.ceil((a - 7.95) / (2.285 * math.pi * width) + 1)), beta


@functools.lru_cache(maxsize=32)
def anchor_filter(name: str, sample_rate: int) -> AnchorFilter:
    """The FIR for anchor ``name`` (``"lp3.5"`` or ``"lp7"``) at ``sample_rate`` Hz (numpy only, no scipy import:
    worker processes start faster)."""
    if name not in ANCHOR_CUTOFFS_HZ:
        raise AudioError(f"unknown anchor {name!r}; anchors are {', '.join(ANCHOR_CUTOFFS_HZ)}")
    fc = ANCHOR_CUTOFFS_HZ[name]
    nyq = sample_rate / 2.0
    if fc >= nyq * 0.98:
        raise AudioError(f"anchor {name} (low-pass at {fc:g} Hz) needs a sample rate above {2 * fc / 0.98:.0f} Hz; "
                         f"the study runs at {sample_rate} Hz. Drop it from the study's anchors or raise the rate.")
    fs_edge = min(fc * STOPBAND_RATIO, nyq)
    numtaps, beta = kaiser_design(STOPBAND_DB, (fs_edge - fc) / nyq)
    numtaps |= 1  # odd: a whole-sample group delay, removed exactly
    # windowed ideal low-pass at the middle of the transition band, unit gain at DC (as scipy's firwin)
    f6 = (fc + fs_edge) / 2.0 / nyq
    m = np.arange(numtaps) - (numtaps - 1) / 2.0
    taps = f6 * np.sinc(f6 * m) * np.kaiser(numtaps, beta)
    taps /= taps.sum()
    taps.setflags(write=False)
    return AnchorFilter(name=name, sample_rate=int(sample_rate), cutoff_hz=fc, stopband_hz=fs_edge, taps=taps)


def make_anchor(audio: np.ndarray, sample_rate: int, name: str) -> np.ndarray:
    """Low-pass ``audio`` (float32 ``(frames, channels)``) into anchor ``name``; same shape, zero-phase.

    Linear convolution by FFT (zero-padded, so no wrap-around), then the (N-1)/2-sample group delay is cut."""
    filt = anchor_filter(name, int(sample_rate))
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 2:
        raise AudioError(f"anchor input must be (frames, channels), got shape {x.shape}")
    n_full = x.shape[0] + len(filt.taps) - 1
    size = 1 << int(math.ceil(math.log2(n_full)))
    y = np.fft.irfft(np.fft.rfft(x, size, axis=0) * np.fft.rfft(filt.taps, size)[:, None], size, axis=0)
    d = (len(filt.taps) - 1) // 2
    return np.ascontiguousarray(y[d : d + x.shape[0]], dtype=np.float32)
