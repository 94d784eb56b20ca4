"""Plain time-domain cross-correlation lag (the classic alignment check), for the codec tests."""

import numpy as np


def xcorr_lag(reference: np.ndarray, degraded: np.ndarray, *, max_lag: int) -> int:
    """Samples ``degraded`` lags ``reference`` (positive: late), from the peak of their cross-correlation."""
    r = np.asarray(reference, dtype=np.float64)
    d = np.asarray(degraded, dtype=np.float64)
    r = r.mean(axis=1) if r.ndim == 2 else r
    d = d.mean(axis=1) if d.ndim == 2 else d
    n = min(r.size, d.size)
    r, d = r[:n] - r[:n].mean(), d[:n] - d[:n].mean()
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(d, size) * np.conj(np.fft.rfft(r, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[int(np.argmax(np.concatenate([xc[: max_lag + 1], xc[size - max_lag:]])))])
