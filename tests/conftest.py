"""Shared fixtures: the ../shared data folder (through MUSHRA_SHARED) and tiny generated signals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared data folder: $MUSHRA_SHARED, else ../shared beside the repository."""
    return Path(os.environ.get("MUSHRA_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if not (d / "audio").is_dir():
        pytest.skip(f"shared data not found at {d} (set MUSHRA_SHARED)")
    return d


@pytest.fixture(scope="session")
def speech_file(shared: Path) -> Path:
    return shared / "audio" / "speech" / "librispeech_198-209-0000_female_16k.wav"


def tone(freq: float = 440.0, *, sr: int = 48000, seconds: float = 1.0, channels: int = 1, amp: float = 0.3
         ) -> np.ndarray:
    """A sine tone, float32 (frames, channels)."""
    t = np.arange(int(sr * seconds)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def speechlike(*, sr: int = 48000, seconds: float = 2.0, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A harmonic, amplitude-modulated signal with a speech-like spectrum (float32, (frames, channels))."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum((1.0 / k) * np.sin(k * phase) for k in range(1, 30) if k * 150 < sr / 2)
    env = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)))
    x = x * env + 0.01 * rng.standard_normal(n)
    x = 0.3 * x / np.max(np.abs(x))
    return np.repeat(x.astype(np.float32)[:, None], channels, axis=1)


@pytest.fixture
def make_wav(tmp_path: Path):
    """Write a generated signal to a WAV in tmp_path and return its path."""
    import soundfile as sf

    def _make(name: str = "x.wav", audio: np.ndarray | None = None, sr: int = 48000) -> Path:
        audio = speechlike(sr=sr) if audio is None else audio
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(p), audio, sr, subtype="PCM_16")
        return p

    return _make
