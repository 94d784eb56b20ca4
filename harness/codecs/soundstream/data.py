"""Training data: every audio file under one or more folders, resampled to 24 kHz mono and cached as one
float16 numpy array; random excerpts with on-the-fly augmentation (random gain; noise mixing for the joint
denoising mode, as in SoundStream Sec. III-F)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from harness.audio import SUPPORTED_SUFFIXES, read_audio, resample
from harness.files import scan_audio
from harness.errors import HarnessError

CACHE_FORMAT = "soundstream-data-cache/1"


class DataError(HarnessError):
    """Unusable training data (no audio files, unreadable folder)."""


def list_audio(folders: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        d = Path(folder)
        if not d.is_dir():
            raise DataError(f"{d}: not a folder. Pass --data a folder of WAV/FLAC/OGG files.")
        files += scan_audio(d)
    if not files:
        raise DataError(f"no audio files ({', '.join(SUPPORTED_SUFFIXES)}) under {', '.join(map(str, folders))}")
    return files


class AudioCorpus:
    """All training audio in one float16 array ``self.audio`` with file boundaries ``self.bounds``."""

    def __init__(self, folders: list[str | Path], *, sample_rate: int = 24000, cache_dir: str | Path | None = None
                 ) -> None:
        self.sample_rate = sample_rate
        self.files = list_audio(folders)
        key = hashlib.sha256(json.dumps(
            [CACHE_FORMAT, sample_rate] + [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns]
                                           for p in self.files]).encode()).hexdigest()[:16]
        cache = Path(cache_dir) if cache_dir else None
        if cache is not None and (cache / f"data-{key}.npy").exists():
            self.audio = np.load(cache / f"data-{key}.npy", mmap_mode="r")
            meta = json.loads((cache / f"data-{key}.json").read_text())
            if meta.get("format") != CACHE_FORMAT:
                raise DataError(f"{cache}: data cache has format {meta.get('format')!r}; delete it to rebuild")
            self.bounds = [tuple(b) for b in meta["bounds"]]
            return
        chunks, bounds, pos = [], [], 0
        for p in self.files:
            x, sr = read_audio(p)
            x = resample(x.mean(axis=1, keepdims=True), sr, sample_rate)[:, 0]
            chunks.append(x.astype(np.float16))
            bounds.append((pos, pos + x.shape[0]))
            pos += x.shape[0]
        self.audio = np.concatenate(chunks)
        self.bounds = bounds
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f"data-{key}.tmp.npy"
            np.save(tmp, self.audio)
            os.replace(tmp, cache / f"data-{key}.npy")
            (cache / f"data-{key}.json").write_text(json.dumps(
                {"format": CACHE_FORMAT, "bounds": bounds, "files": [str(p) for p in self.files]}))

    @property
    def seconds(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    def excerpt(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """A random ``n``-sample excerpt (float32), file chosen with probability proportional to its length;
        files shorter than ``n`` are zero-padded. Near-silent excerpts are re-drawn (up to 10 tries)."""
        lengths = np.array([b - a for a, b in self.bounds], dtype=np.float64)
        for _ in range(10):
            a, b = self.bounds[rng.choice(len(self.bounds), p=lengths / lengths.sum())]
            start = a + int(rng.integers(0, max(1, b - a - n + 1)))
            x = np.asarray(self.audio[start:min(start + n, b)], dtype=np.float32)
            if x.shape[0] < n:
                x = np.pad(x, (0, n - x.shape[0]))
            if np.sqrt(np.mean(x ** 2)) > 1e-3:
                break
        return x


def colored_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink or brown noise (random choice), unit RMS."""
    kind = rng.integers(0, 3)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec = spec / (f ** (0.5 * kind))
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def make_batch(corpus: AudioCorpus, rng: np.random.Generator, *, batch_size: int, samples: int,
               denoise: bool = False, gain_db: tuple[float, float] = (-12.0, 4.0)
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(inputs, targets, denoise_flags)``: inputs/targets float32 ``(B, 1, samples)``, flags int64 ``(B,)``.

    Random gain in ``gain_db`` (then peak-limited to 0.99). In denoising mode half of the examples get noise at
    an SNR of 0-20 dB; the flag is 1 (denoise: target is the clean signal) or 0 (keep: target is the input).
    """
    xs, ys, flags = [], [], []
    for _ in range(batch_size):
        x = corpus.excerpt(rng, samples)
        x = x * np.float32(10 ** (rng.uniform(*gain_db) / 20))
        peak = np.max(np.abs(x))
        if peak > 0.99:
            x = x * np.float32(0.99 / peak)
        y, flag = x, 0
        if denoise:
            flag = int(rng.integers(0, 2))
            if rng.random() < 0.5:
                rms = np.sqrt(np.mean(x ** 2)) + 1e-6
                snr = rng.uniform(0.0, 20.0)
                noisy = x + colored_noise(rng, samples) * np.float32(rms / 10 ** (snr / 20))
                scale = min(1.0, 0.99 / (np.max(np.abs(noisy)) + 1e-9))
                x, clean = (noisy * scale).astype(np.float32), (x * scale).astype(np.float32)
                y = clean if flag else x
        xs.append(x)
        ys.append(y)
        flags.append(flag)
    return np.stack(xs)[:, None], np.stack(ys)[:, None], np.array(flags, dtype=np.int64)
