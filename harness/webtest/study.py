"""The served study: the manifest checked for serving, and blinded audio bytes for each stimulus.

Every stimulus is re-encoded to a canonical 16-bit PCM WAV (no metadata chunks) padded to the item's longest
file, so all stimuli of an item have the same byte size and identical headers by construction.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.errors import ManifestError
from harness.manifest import Manifest, load_manifest
from harness.vocabulary import MIN_SIGNALS_PER_TRIAL, RaterSettings, resolve_condition_problem
from harness.webtest.texts import check_texts


@dataclasses.dataclass(frozen=True)
class Study:
    manifest: Manifest
    folder: Path
    settings: RaterSettings
    items: tuple[str, ...]
    conditions: dict[str, tuple[str, ...]]  # item -> condition ids rated in its trials
    frames: dict[str, int]  # item -> frames every stimulus of that item is served with

    @property
    def sample_rate(self) -> int:
        return self.manifest.sample_rate

    def path(self, item: str, condition: str | None) -> Path:
        """File of a stimulus; ``condition=None`` is the item's open reference."""
        if condition is None:
            rel = next(i.reference for i in self.manifest.items if i.id == item)
        else:
            rel = self.manifest.stimulus(item, condition).path
        return self.folder / rel

    def wav_bytes(self, item: str, condition: str | None) -> bytes:
        return _canonical_wav(str(self.path(item, condition)), self.frames[item], self.sample_rate)


def load_study(study_dir: str | Path) -> Study:
    """Load and check a prepared study for serving (files present, <= 12 signals per trial, equal lengths)."""
    manifest, folder = load_manifest(study_dir)
    settings = rater_settings(manifest)
    if not manifest.items:
        raise ManifestError(f"{folder}: the study has no items; add items to the study file and re-run prepare")
    check_texts(settings.text, settings.translations)
    warning = settings.training_warning(n_items=len(manifest.items))
    if warning:
        warnings.warn(f"{folder.name}: {warning}", UserWarning, stacklevel=2)
    conditions: dict[str, tuple[str, ...]] = {}
    frames: dict[str, int] = {}
    for item in manifest.items:
        conds = tuple(s.condition for s in manifest.stimuli_for(item.id))
        if len(conds) < MIN_SIGNALS_PER_TRIAL:
            raise ManifestError(f"item {item.id!r} has {len(conds)} stimuli; a MUSHRA trial needs at least "
                                f"{MIN_SIGNALS_PER_TRIAL}")
        if len(conds) > settings.max_signals_per_trial:
            raise ManifestError(
                f"item {item.id!r} has {len(conds)} signals (hidden reference and anchors included); ITU-R "
                f"BS.1534-3 allows at most {settings.max_signals_per_trial} per trial. Drop conditions.")
        lengths = {}
        for rel in [item.reference] + [s.path for s in manifest.stimuli_for(item.id)]:
            p = folder / rel
            if not p.exists():
                raise ManifestError(f"{p}: stimulus file missing; re-run `mushra prepare`")
            try:
                info = sf.info(str(p))
            except Exception as exc:  # libsndfile's errors are terse
                raise ManifestError(f"{p}: unreadable stimulus ({exc}); re-run `mushra prepare`") from exc
            if info.samplerate != manifest.sample_rate:
                raise ManifestError(f"{p}: {info.samplerate} Hz, the manifest says {manifest.sample_rate} Hz")
            lengths[rel] = info.frames
        conditions[item.id] = conds
        frames[item.id] = max(lengths.values())
    return Study(manifest=manifest, folder=folder, settings=settings, items=tuple(i.id for i in manifest.items),
                 conditions=conditions, frames=frames)


def rater_settings(manifest: Manifest) -> RaterSettings:
    """The manifest's ``rater`` table with every default applied, checked as the study parser checks it."""
    n_items = len(manifest.items)
    try:
        s = RaterSettings.from_mapping(manifest.rater or {}).resolved(n_items=n_items,
                                                                     study_hash=manifest.study_hash)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"malformed [rater] settings ({exc})") from exc
    for _key, msg in s.problems(n_items=n_items):
        raise ManifestError(f"manifest.json rater settings: {msg}")
    msg = resolve_condition_problem(s.resolve, {c.id for c in manifest.conditions})
    if msg:
        raise ManifestError(f"manifest.json rater settings: {msg}")
    return s


@functools.lru_cache(maxsize=48)
def _canonical_wav(path: str, frames: int, sample_rate: int) -> bytes:
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    if data.shape[0] < frames:
        data = np.pad(data, ((0, frames - data.shape[0]), (0, 0)))
    return wav_bytes(data[:frames], sr)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes (plain RIFF header, no metadata) of float audio ``(frames, channels)``."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), int(sample_rate), subtype="PCM_16", format="WAV")
    return buf.getvalue()
