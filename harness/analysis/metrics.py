"""Objective quality metrics. Every function takes keyword-only ``reference=``, ``degraded=`` and
``sample_rate=`` (Hz) and returns a frozen :class:`MetricResult` carrying the value, its unit, every setting that
changes the number, and the versions that computed it.

Conventions (see docs/analysis.md):

- **ViSQOL** (Hines et al. 2015; Chinen et al. 2020, ViSQOL v3) through ``visqol-python``: audio mode at 48 kHz with
  the bundled SVR mapper, speech mode at 16 kHz with an explicit mapper (``lattice`` by default, the C++ v3.3
  default; ``exponential`` on request). Inputs are down-mixed to mono and resampled with soxr VHQ. ViSQOL is not
  symmetric: ``reference`` is the clean signal, ``degraded`` the coded one. Unit: MOS-LQO (1..5).
- **SI-SDR / SI-SNR** (Le Roux et al. 2019, "SDR - half-baked or well done?"): float64, the degraded signal is first
  aligned to the reference by cross-correlation within ``max_lag_ms`` (the lag found is recorded; positive lag =
  degraded lags the reference), both cut to their common length. SI-SNR removes each signal's mean first.
  Unit: dB, positive (higher is better); not segment-averaged.
- **mel distance**: multi-resolution log-mel L1 at 24 kHz (see :data:`MEL_SETTINGS`); lower is better.
- **PESQ** wide/narrow band, **STOI** / extended STOI and non-intrusive **DNSMOS**: see :mod:`speech_metrics`.
- Valid input rates and content types of every metric: :mod:`metric_domains` (checked by :func:`compute`).
"""

from __future__ import annotations

import dataclasses
import math
from importlib import metadata
from typing import Any, Callable

import numpy as np

from harness.audio import estimate_lag_polarity, mel_filterbank, resample
from harness.errors import HarnessError


class MetricError(HarnessError):
    """A metric cannot be computed for these signals or settings."""


@dataclasses.dataclass(frozen=True)
class MetricResult:
    metric: str
    value: float
    unit: str
    settings: dict[str, Any]
    version: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RESAMPLER = "soxr VHQ"


def _pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _harness_version() -> str:
    from harness import __version__

    return __version__


def _mono64(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 2:
        a = a.mean(axis=1)
    elif a.ndim != 1:
        raise MetricError(f"{what} must be 1-D or (frames, channels), got shape {a.shape}")
    if a.size == 0:
        raise MetricError(f"{what} is empty")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise MetricError(f"{what} contains NaN/Inf samples")
    return a


def _check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise MetricError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    return int(sample_rate)


def _to_rate(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return x
    return resample(x[:, None].astype(np.float32), sr, target)[:, 0].astype(np.float64)


# --- alignment + SI-SDR / SI-SNR ----------------------------------------------------------------------------
MIN_ALIGN_CORRELATION = 0.1  # below this the lag search found no real match: score at lag 0 (SI-SNR ~ -20 dB)


def _shift(reference: np.ndarray, degraded: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    if lag > 0:
        degraded = degraded[lag:]
    elif lag < 0:
        reference = reference[-lag:]
    n = min(len(reference), len(degraded))
    return reference[:n], degraded[:n]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return float(np.dot(a, b)) / den if den > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Alignment:
    lag: int  # samples; positive: degraded is late
    inverted: bool  # the degraded signal's polarity is flipped
    correlation: float  # Pearson correlation of the aligned signals (signed)
    searched: bool  # False when the lag search was rejected (no real match) and lag 0 was used


def align_signals(reference: np.ndarray, degraded: np.ndarray, max_lag: int
                  ) -> tuple[np.ndarray, np.ndarray, Alignment]:
    """Shift ``degraded`` onto ``reference`` with the lag estimator ``prepare`` uses (GCC-PHAT,
    :func:`harness.audio.estimate_lag_polarity`: either polarity) and cut both to their common length.

    A lag is only accepted when the aligned signals correlate (``|r| >= MIN_ALIGN_CORRELATION``); otherwise the
    signals are unrelated (noise, a random-weights model) and searching +-``max_lag`` would merely pick the best of
    many chance correlations, so they are compared at lag 0."""
    if max_lag <= 0:
        r, d = _shift(reference, degraded, 0)
        return r, d, Alignment(0, _corr(r, d) < 0, _corr(r, d), False)
    est = estimate_lag_polarity(reference=reference, degraded=degraded, max_lag=max_lag)
    r, d = _shift(reference, degraded, est.lag)
    rho = _corr(r, d)
    if abs(rho) >= MIN_ALIGN_CORRELATION or est.lag == 0:
        return r, d, Alignment(est.lag, rho < 0, rho, True)
    r, d = _shift(reference, degraded, 0)
    rho = _corr(r, d)
    return r, d, Alignment(0, rho < 0, rho, False)


def align(reference: np.ndarray, degraded: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`align_signals` returning ``(ref, deg, lag)``."""
    r, d, a = align_signals(reference, degraded, max_lag)
    return r, d, a.lag


def _si_ratio(name: str, reference, degraded, sample_rate, max_lag_ms: float, zero_mean: bool) -> MetricResult:
    sr = _check_rate(sample_rate)
    ref = _mono64(reference, "reference")
    deg = _mono64(degraded, "degraded")
    ref, deg, al = align_signals(ref, deg, int(round(max_lag_ms * sr / 1000.0)))
    lag = al.lag
    if zero_mean:
        ref = ref - ref.mean()
        deg = deg - deg.mean()
    energy = float(np.dot(ref, ref))
    if energy <= 0.0:
        raise MetricError(f"{name}: the reference is silent; the metric is undefined")
    alpha = float(np.dot(deg, ref)) / energy
    target = alpha * ref
    noise = target - deg
    num, den = float(np.dot(target, target)), float(np.dot(noise, noise))
    if den == 0.0:
        value = math.inf
    elif num == 0.0:
        value = -math.inf
    else:
        value = 10.0 * math.log10(num / den)
    settings = {"sample_rate": sr, "dtype": "float64",
                "aligned": "GCC-PHAT (harness.audio, as prepare), either polarity",
                "max_lag_ms": max_lag_ms, "lag_samples": lag, "lag_ms": 1000.0 * lag / sr,
                "polarity": "inverted" if al.inverted else "normal", "aligned_correlation": round(al.correlation, 6),
                "lag_search": "accepted" if al.searched else
                f"rejected (|r| < {MIN_ALIGN_CORRELATION:g} at the best lag: unrelated signals, lag 0 used)",
                "compared_samples": int(len(ref)),
                "zero_mean": zero_mean, "sign": "positive dB, higher is better", "segmental": False,
                "reference": "Le Roux et al. 2019"}
    return MetricResult(name, value, "dB", settings, f"harness {_harness_version()}")


def si_sdr(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 100.0
           ) -> MetricResult:
    """Scale-invariant SDR in dB: ``10 log10(||a s||^2 / ||a s - s_hat||^2)`` with ``a = <s_hat, s>/||s||^2``
    (Le Roux et al. 2019), on signals aligned by :func:`align_signals`. ``a`` may be negative, so an output with
    inverted polarity scores as the same output upright; ``settings["polarity"]`` reports it."""
    return _si_ratio("si-sdr", reference, degraded, sample_rate, max_lag_ms, zero_mean=False)


def si_snr(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 100.0
           ) -> MetricResult:
    """Scale-invariant SNR in dB: SI-SDR after removing each (aligned) signal's mean."""
    return _si_ratio("si-snr", reference, degraded, sample_rate, max_lag_ms, zero_mean=True)


# --- ViSQOL -------------------------------------------------------------------------------------------------
_VISQOL: dict[tuple[str, str], Any] = {}  # one manager per (mode, mapper) per process


def _visqol_manager(mode: str, mapper: str):
    key = (mode, mapper)
    if key not in _VISQOL:
        try:
            from visqol.visqol_manager import VisqolManager
        except ImportError as exc:
            raise MetricError("ViSQOL needs visqol-python: pip install visqol-python") from exc
        m = VisqolManager()
        if mode == "audio":
            from visqol.api import _DEFAULT_SVR_MODEL

            m.init(model_path=_DEFAULT_SVR_MODEL, use_speech_mode=False)
        else:
            m.init(use_speech_mode=True, use_lattice_model=(mapper == "lattice"))
        _VISQOL[key] = m
    return _VISQOL[key]


def _visqol(mode: str, rate: int, mapper: str, reference, degraded, sample_rate) -> MetricResult:
    from visqol.audio_utils import AudioSignal

    sr = _check_rate(sample_rate)
    ref = _to_rate(_mono64(reference, "reference"), sr, rate)
    deg = _to_rate(_mono64(degraded, "degraded"), sr, rate)
    if len(ref) < rate // 2 or len(deg) < rate // 2:
        raise MetricError(f"visqol-{mode}: signals must be at least 0.5 s long for ViSQOL's patches")
    manager = _visqol_manager(mode, mapper)
    result = manager.run_from_signals(AudioSignal(ref, rate), AudioSignal(deg, rate))
    settings = {"mode": mode, "sample_rate": rate, "input_sample_rate": sr,
                "resampler": RESAMPLER if sr != rate else "none", "mapper": mapper, "downmix": "mean to mono",
                "search_window": manager.search_window, "vnsim": float(result.vnsim)}
    if mode == "speech":
        settings["use_lattice_model"] = mapper == "lattice"
    return MetricResult(f"visqol-{mode}", float(result.moslqo), "MOS-LQO", settings,
                        f"visqol-python {_pkg_version('visqol-python')}")


def visqol_audio(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> MetricResult:
    """ViSQOL v3 audio mode (48 kHz, SVR mapper), MOS-LQO 1..5."""
    return _visqol("audio", 48000, "svr", reference, degraded, sample_rate)


def visqol_speech(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int,
                  use_lattice_model: bool = True) -> MetricResult:
    """ViSQOL v3 speech mode (16 kHz, VAD patches); mapper ``lattice`` (default) or ``exponential``."""
    if not isinstance(use_lattice_model, bool):
        raise MetricError("use_lattice_model must be True (lattice mapper) or False (exponential mapper)")
    return _visqol("speech", 16000, "lattice" if use_lattice_model else "exponential", reference, degraded,
                   sample_rate)


# --- multi-resolution log-mel distance ----------------------------------------------------------------------
MEL_SETTINGS: dict[str, Any] = {
    "sample_rate": 24000, "n_fft": (512, 1024, 2048), "hop": "n_fft/4", "window": "hann", "n_mels": (40, 80, 128),
    "fmin_hz": 0.0, "fmax_hz": 12000.0, "mel_scale": "htk", "log": "log10(mel_power + 1e-5)", "reduce": "mean L1",
}


def _log_mel(x: np.ndarray, sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    hop = n_fft // 4
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)) ** 2
    mel = spec @ mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin=MEL_SETTINGS["fmin_hz"],
                                fmax=MEL_SETTINGS["fmax_hz"]).T
    return np.log10(mel + 1e-5)


def mel_distance(*, reference: np.ndarray, degraded: np.ndarray, sample_rate: int, max_lag_ms: float = 100.0
                 ) -> MetricResult:
    """Multi-resolution log-mel L1 distance (lower is better) after alignment, at 24 kHz."""
    sr = _check_rate(sample_rate)
    rate = MEL_SETTINGS["sample_rate"]
    ref, deg, lag = align(_mono64(reference, "reference"), _mono64(degraded, "degraded"),
                          int(round(max_lag_ms * sr / 1000.0)))
    ref, deg = _to_rate(ref, sr, rate), _to_rate(deg, sr, rate)
    dists = [float(np.mean(np.abs(_log_mel(ref, rate, nfft, nm) - _log_mel(deg, rate, nfft, nm))))
             for nfft, nm in zip(MEL_SETTINGS["n_fft"], MEL_SETTINGS["n_mels"])]
    settings = {**MEL_SETTINGS, "n_fft": list(MEL_SETTINGS["n_fft"]), "n_mels": list(MEL_SETTINGS["n_mels"]),
                "input_sample_rate": sr, "resampler": RESAMPLER if sr != rate else "none", "lag_samples": lag,
                "per_resolution": dists, "sign": "lower is better"}
    return MetricResult("mel", float(np.mean(dists)), "log10-mel L1", settings, f"harness {_harness_version()}")


# --- registry ------------------------------------------------------------------------------------------------
from harness.analysis import metric_domains  # noqa: E402
from harness.analysis.speech_metrics import dnsmos, estoi, pesq_nb, pesq_wb, stoi  # noqa: E402

#: CLI / evaluate names -> functions (domains: :data:`harness.analysis.metric_domains.DOMAINS`)
METRICS: dict[str, Callable[..., MetricResult]] = {
    "visqol-audio": visqol_audio,
    "visqol-speech": visqol_speech,
    "si-snr": si_snr,
    "si-sdr": si_sdr,
    "mel": mel_distance,
    "pesq": pesq_wb,
    "pesq-nb": pesq_nb,
    "stoi": stoi,
    "estoi": estoi,
    "dnsmos": dnsmos,
}
#: direction of improvement, for regressions and plots
HIGHER_IS_BETTER = {m: d.higher_is_better for m, d in metric_domains.DOMAINS.items()}
pesq = pesq_wb  # the name older code used


def compute(name: str, *, reference: np.ndarray | None, degraded: np.ndarray, sample_rate: int,
            content: str | None = None, **options: Any) -> MetricResult:
    """Compute metric ``name`` (one of :data:`METRICS`) after checking its domain: the input ``sample_rate`` (Hz)
    and, when known, the ``content`` type (``speech``, ``music``, ``mixed``, ``unknown``)."""
    fn = METRICS.get(name)
    if fn is None:
        raise MetricError(f"unknown metric '{name}'. Choose one of: {', '.join(METRICS)}")
    metric_domains.check(name, sample_rate=_check_rate(sample_rate), content=content)
    if reference is None and metric_domains.DOMAINS[name].intrusive:
        raise MetricError(f"{name} compares against a reference: pass reference=")
    try:
        return fn(reference=reference, degraded=degraded, sample_rate=sample_rate, **options)
    except ModuleNotFoundError as exc:
        from harness.extras import missing_extra_message

        msg = missing_extra_message(exc.name or "", purpose=f"metric '{name}'")
        if msg is None:
            raise
        raise MetricError(msg) from None
