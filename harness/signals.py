"""Generated test audio for ``mushra init`` / ``mushra demo``: speech (espeak-ng when installed, else a
speech-like harmonic signal) and a music-like signal (chords of decaying plucked tones with a bass line).

Nothing here reads external data: everything is synthesised, so the demo runs on any fresh machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DEMO_SENTENCES = (
    "The quick brown fox jumps over the lazy dog, while the early bird catches the worm.",
    "Listening tests compare codecs by asking people how close each sample sounds to the reference.",
)


def speech_like(*, sample_rate: int = 48000, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Voiced, syllable-rate modulated harmonics with formant-like emphasis and breath noise; ``(n, 1)``."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    f0 = 110 + 25 * rng.uniform(0.8, 1.2) * np.sin(2 * np.pi * 0.6 * t) + 10 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = (700 + 200 * np.sin(2 * np.pi * 1.7 * t), 1200 + 400 * np.sin(2 * np.pi * 1.1 * t + 1), 2600.0)
    x = np.zeros(n)
    for k in range(1, 60):
        fk = k * f0
        if fk.mean() > 0.45 * sample_rate:
            break
        amp = sum(np.exp(-((fk - F) / 180.0) ** 2) for F in formants) + 0.02
        x += amp * np.sin(k * phase) / np.sqrt(k)
    syll = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.7
    pauses = (np.sin(2 * np.pi * 0.35 * t + rng.uniform(0, 6)) > -0.7).astype(float)
    x = x * syll * pauses + 0.02 * rng.standard_normal(n) * syll
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)[:, None]


def music_like(*, sample_rate: int = 48000, seconds: float = 6.0, seed: int = 1, channels: int = 1) -> np.ndarray:
    """Plucked-string chords (I-vi-IV-V) over a bass line with a hi-hat-like noise tick; ``(n, channels)``."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    out = np.zeros((n, 2))
    chords = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))
    beat = 0.5  # seconds
    for b in range(int(seconds / beat)):
        start = int(b * beat * sample_rate)
        length = min(n - start, int(1.5 * sample_rate))
        tt = np.arange(length) / sample_rate
        notes = chords[(b // 4) % 4] + ((chords[(b // 4) % 4][0] - 24),)
        for j, m in enumerate(notes):
            f = 440.0 * 2 ** ((m - 69) / 12)
            tone = sum(np.sin(2 * np.pi * h * f * tt) * np.exp(-tt * (2 + 1.5 * h)) / h for h in range(1, 8)
                       if h * f < 0.45 * sample_rate)
            pan = 0.5 + 0.3 * (j - 1.5) / 1.5
            out[start:start + length, 0] += (1 - pan) * tone
            out[start:start + length, 1] += pan * tone
        tick = min(n - start, int(0.05 * sample_rate))
        hat = rng.standard_normal(tick) * np.exp(-np.arange(tick) / (0.008 * sample_rate)) * 0.3
        out[start:start + tick] += hat[:, None]
    out = out if channels == 2 else out.mean(axis=1, keepdims=True)
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def espeak_speech(text: str, *, sample_rate: int = 48000, voice: str = "en-us") -> np.ndarray | None:
    """Speech synthesised by espeak-ng (``(n, 1)`` at ``sample_rate``), or ``None`` when it is not installed."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return None
    from harness.audio import read_audio, resample

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        try:
            subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(wav), text], check=True, capture_output=True,
                           timeout=60)
            audio, sr = read_audio(wav)
        except Exception:
            return None
    audio = resample(audio[:, :1], sr, sample_rate)
    peak = float(np.max(np.abs(audio))) or 1.0
    return (0.3 * audio / peak).astype(np.float32)


def write_example_audio(folder: Path, *, sample_rate: int = 48000, seconds: float = 6.0) -> list[Path]:
    """Write ``speech/speech1.wav`` (espeak-ng or speech-like) and ``music/music1.wav`` under ``folder``."""
    from harness.audio import write_audio

    speech = espeak_speech(DEMO_SENTENCES[0], sample_rate=sample_rate)
    if speech is None or speech.shape[0] < sample_rate:
        speech = speech_like(sample_rate=sample_rate, seconds=seconds)
    paths = [folder / "speech" / "speech1.wav", folder / "music" / "music1.wav"]
    write_audio(paths[0], speech, sample_rate)
    write_audio(paths[1], music_like(sample_rate=sample_rate, seconds=seconds), sample_rate)
    return paths
