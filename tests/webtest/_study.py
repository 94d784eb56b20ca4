"""Build a small prepared study (generated audio + manifest) without `mushra prepare`, for tests and benchmarks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from scipy import signal

from harness.audio import write_audio
from harness.manifest import ConditionRecord, ItemRecord, Manifest, StimulusRecord

CONDITIONS = (
    ConditionRecord(id="reference", kind="reference", label="hidden reference"),
    ConditionRecord(id="lp3.5", kind="anchor", label="3.5 kHz low-pass"),
    ConditionRecord(id="lp7", kind="anchor", label="7 kHz low-pass"),
    ConditionRecord(id="fakecodec_6", kind="codec", codec="fakecodec", kbps=6.0, label="fakecodec 6 kbps"),
    ConditionRecord(id="fakecodec_12", kind="codec", codec="fakecodec", kbps=12.0, label="fakecodec 12 kbps"),
)


def _signal(sr: int, seconds: float, seed: int) -> np.ndarray:
    """A harmonic, amplitude-modulated signal plus a little noise (unique per seed, easy to locate in time)."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.9 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum((1.0 / k) * np.sin(k * phase) for k in range(1, 40) if k * 180 < sr / 2)
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6))) + 0.05 * rng.standard_normal(n)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)[:, None]


def _lowpass(x: np.ndarray, sr: int, fc: float) -> np.ndarray:
    sos = signal.butter(10, fc, fs=sr, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0).astype(np.float32)


def build_study(folder: Path, *, n_items: int = 3, sr: int = 16000, seconds: float = 1.5, rater: dict | None = None,
                study_name: str = "webtest-study", extra_codecs: int = 0) -> Path:
    """``extra_codecs`` adds conditions ``noisy_K`` (K = 1..) so a trial can have up to 12 signals."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    items, stimuli = [], []
    conditions = CONDITIONS + tuple(
        ConditionRecord(id=f"noisy_{j}", kind="codec", codec="noisy", kbps=float(j), label=f"noisy {j}")
        for j in range(1, extra_codecs + 1))
    for k in range(n_items):
        item = f"item{k + 1}"
        ref = _signal(sr, seconds, seed=k)
        write_audio(folder / "reference" / f"{item}.wav", ref, sr)
        items.append(ItemRecord(id=item, category="speech" if k % 2 == 0 else "music", source=f"gen{k}.wav",
                                reference=f"reference/{item}.wav", duration_s=seconds))
        rng = np.random.default_rng(100 + k)
        versions = {"reference": ref, "lp3.5": _lowpass(ref, sr, 3500), "lp7": _lowpass(ref, sr, 7000 * 0.99),
                    "fakecodec_6": ref + 0.05 * rng.standard_normal(ref.shape).astype(np.float32),
                    "fakecodec_12": ref + 0.01 * rng.standard_normal(ref.shape).astype(np.float32)}
        for j in range(1, extra_codecs + 1):
            versions[f"noisy_{j}"] = ref + 0.003 * j * rng.standard_normal(ref.shape).astype(np.float32)
        for c in conditions:
            rel = f"stimuli/{item}/{c.id}.wav"
            write_audio(folder / rel, versions[c.id], sr)
            digest = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
            stimuli.append(StimulusRecord(item=item, condition=c.id, kind=c.kind, path=rel, sha256=digest,
                                          loudness_lufs=-23.0, gain_db=0.0, codec=c.codec, nominal_kbps=c.kbps,
                                          measured_kbps=(c.kbps * 1.01 if c.kbps else None)))
    manifest = Manifest(study_name=study_name, study_hash=hashlib.sha256(study_name.encode()).hexdigest()[:16],
                        sample_rate=sr, channels=1, loudness_target_lufs=-23.0, items=tuple(items),
                        conditions=conditions, stimuli=tuple(stimuli), rater=dict(rater or {}))
    manifest.save(folder)
    return folder
