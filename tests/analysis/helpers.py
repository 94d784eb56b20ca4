"""Signals and tables for the analysis tests (generated here so golden values do not depend on other fixtures)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def harmonic(sr: int = 48000, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A speech-like harmonic signal with a 3 Hz envelope, float32 (frames, 1)."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum((1.0 / k) * np.sin(k * phase) for k in range(1, 30) if k * 150 < sr / 2)
    env = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * t + 1.0))
    x = x * env + 0.01 * rng.standard_normal(n)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)[:, None]


def lowpass(x: np.ndarray, sr: int, cutoff: float) -> np.ndarray:
    import scipy.signal as ss

    b, a = ss.butter(6, cutoff / (sr / 2))
    return ss.lfilter(b, a, x[:, 0]).astype(np.float32)[:, None]


def ratings_table(spec: dict[str, dict[str, list[float]]], *, conditions=("reference", "lp7", "lp3.5", "c@6")
                  ) -> pd.DataFrame:
    """Hand-built ratings: ``spec[rater][condition] = [score per item]``; items are i0, i1, ..."""
    rows = []
    for rater, per in spec.items():
        for cond, scores in per.items():
            kind = "reference" if cond == "reference" else ("anchor" if cond.startswith("lp") else "codec")
            for i, s in enumerate(scores):
                rows.append({"rater": rater, "item": f"i{i}", "condition": cond, "score": float(s), "kind": kind,
                             "codec": "c" if kind == "codec" else None, "kbps": 6.0 if kind == "codec" else np.nan,
                             "plays": 2, "listen_ms": 5000.0})
    return pd.DataFrame(rows)
