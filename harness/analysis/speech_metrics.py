"""Speech metrics the field reports: PESQ (wide and narrow band), STOI / extended STOI, DNSMOS.

- **PESQ** through ``pesq`` (the ITU-T reference C code): ``pesq`` = P.862.2 wide-band at 16 kHz, ``pesq-nb`` =
  P.862 narrow-band at 8 kHz mapped to MOS-LQO with P.862.1. Inputs above the mode's rate are resampled with soxr
  VHQ (recorded); below it is an error. No pre-alignment: P.862 aligns internally.
- **STOI** (Taal et al. 2011) and **extended STOI** (Jensen & Taal 2016) through ``pystoi`` at the input rate
  (pystoi resamples to 10 kHz itself). STOI needs time-aligned signals: the degraded signal is aligned to the
  reference by cross-correlation within +-100 ms (recorded as ``lag_samples``; set ``max_lag_ms=0`` to compare as
  given, which reproduces pystoi's own values).
- **DNSMOS P.835** (Reddy et al. 2022) through ``speechmos``, whose ONNX models ship inside its wheel: nothing is
  downloaded. Non-intrusive: only ``degraded`` is scored (``reference`` is ignored and may be None). 16 kHz
  (higher rates resampled); value = OVRL, with SIG, BAK and the P.808 MOS in the settings.
"""

from __future__ import annotations

import numpy as np

from harness.analysis.metrics import MetricError, MetricResult, RESAMPLER, _check_rate, _mono64, _pkg_version, \
    _to_rate, align


def _pesq(mode: str, name: str, rate: int, reference, degraded, sample_rate) -> MetricResult:
    try:
        import pesq as _p
    except ImportError:
        raise MetricError("the pesq metric needs the 'pesq' package: pip install pesq "
                          "(or pip install 'mushra-harness[metrics]')") from None
    sr = _check_rate(sample_rate)
    ref = _to_rate(_mono64(reference, "reference"), sr, rate)
    deg = _to_rate(_mono64(degraded, "degraded"), sr, rate)
    try:
        value = float(_p.pesq(rate, ref, deg, mode))
    except _p.PesqError as exc:  # e.g. no utterance detected (silence)
        raise MetricError(f"{name}: {type(exc).__name__}: {exc}") from None
    settings = {"mode": mode, "sample_rate": rate, "input_sample_rate": sr,
                "resampler": RESAMPLER if sr != rate else "none", "aligned": "P.862 internal alignment",
                "standard": "ITU-T P.862.2" if mode == "wb" else "ITU-T P.862 + P.862.1 mapping"}
    return MetricResult(name, value, "MOS-LQO", settings, f"pesq {_pkg_version('pesq')}")


def pesq_wb(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> MetricResult:
    """Wide-band PESQ (ITU-T P.862.2) MOS-LQO at 16 kHz (input >= 16 kHz)."""
    return _pesq("wb", "pesq", 16000, reference, degraded, sample_rate)


def pesq_nb(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> MetricResult:
    """Narrow-band PESQ (ITU-T P.862, P.862.1 mapping) MOS-LQO at 8 kHz (input >= 8 kHz)."""
    return _pesq("nb", "pesq-nb", 8000, reference, degraded, sample_rate)


def _stoi(name: str, extended: bool, reference, degraded, sample_rate, max_lag_ms: float) -> MetricResult:
    try:
        import pystoi
    except ImportError:
        raise MetricError("the stoi metric needs the 'pystoi' package: pip install pystoi "
                          "(or pip install 'mushra-harness[metrics]')") from None
    sr = _check_rate(sample_rate)
    ref, deg, lag = align(_mono64(reference, "reference"), _mono64(degraded, "degraded"),
                          int(round(max_lag_ms * sr / 1000.0)))
    if len(ref) < int(0.4 * sr):
        raise MetricError(f"{name}: signals shorter than 0.4 s (one 384 ms STOI segment); give longer items")
    value = float(pystoi.stoi(ref, deg, sr, extended=extended))
    settings = {"extended": extended, "input_sample_rate": sr, "internal_sample_rate": 10000,
                "resampler": "pystoi internal", "aligned": "cross-correlation" if max_lag_ms > 0 else "no",
                "max_lag_ms": max_lag_ms, "lag_samples": lag}
    return MetricResult(name, value, "", settings, f"pystoi {_pkg_version('pystoi')}")


def stoi(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 100.0
         ) -> MetricResult:
    """STOI (Taal et al. 2011), 0..1, higher is better."""
    return _stoi("stoi", False, reference, degraded, sample_rate, max_lag_ms)


def estoi(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 100.0
          ) -> MetricResult:
    """Extended STOI (Jensen & Taal 2016), higher is better."""
    return _stoi("estoi", True, reference, degraded, sample_rate, max_lag_ms)


def dnsmos(*, reference: np.ndarray | None = None, degraded: np.ndarray, sample_rate: int,
           personalized: bool = False) -> MetricResult:
    """DNSMOS P.835 OVRL (1..5) of ``degraded`` alone; SIG/BAK/P.808 in the settings. ``reference`` is unused."""
    try:
        from speechmos import dnsmos as _d
    except ImportError as exc:
        raise MetricError(f"the dnsmos metric needs 'speechmos', 'onnxruntime' and 'librosa' ({exc}): "
                          "pip install 'mushra-harness[metrics]'") from None
    sr = _check_rate(sample_rate)
    deg = _to_rate(_mono64(degraded, "degraded"), sr, 16000)
    peak = float(np.max(np.abs(deg)))
    if peak > 1.0:
        raise MetricError(f"dnsmos: samples must lie in -1..1 (peak {peak:.3f}); pass float audio, not int16 counts")
    if len(deg) < 16000:
        raise MetricError("dnsmos: the signal is shorter than 1 s; DNSMOS scores 9 s windows (shorter is looped)")
    r = _d.run(deg.astype(np.float32), 16000, model_type="dnsmos_personalized" if personalized else "dnsmos")
    settings = {"model": "DNSMOS P.835 sig_bak_ovr.onnx" + (" (personalized)" if personalized else ""),
                "sample_rate": 16000, "input_sample_rate": sr, "resampler": RESAMPLER if sr != 16000 else "none",
                "sig": float(r["sig_mos"]), "bak": float(r["bak_mos"]), "p808": float(r["p808_mos"]),
                "window_s": 9.01, "hop_s": 1.0, "intrusive": False}
    return MetricResult("dnsmos", float(r["ovrl_mos"]), "MOS (P.835 OVRL)", settings,
                        f"speechmos {_pkg_version('speechmos')}, onnxruntime {_pkg_version('onnxruntime')}")
