"""The manifest of a prepared study: ``DIR/manifest.json``, written by ``mushra prepare``, read by
``mushra serve`` / ``analyze`` / ``evaluate``. It carries a format tag and schema version checked on load.

Condition kinds: ``reference`` (the hidden reference), ``anchor`` (``lp3.5`` / ``lp7`` low-pass anchors) and
``codec``. Every item also has an open reference file (``Item.reference``) that is not a rated stimulus.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from harness.errors import ManifestError
from harness.files import atomic_write, read_json
from harness.vocabulary import HIDDEN_REFERENCE  # noqa: F401 - re-exported

FORMAT = "mushra-harness/manifest"
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ItemRecord:
    id: str
    category: str
    source: str  # the original file the excerpt came from
    reference: str  # path of the open reference, relative to the manifest's folder
    duration_s: float


@dataclasses.dataclass(frozen=True)
class ConditionRecord:
    id: str
    kind: str  # "reference" | "anchor" | "codec"
    codec: str | None = None
    kbps: float | None = None
    label: str = ""  # human-readable, for reports only (never sent to raters)


@dataclasses.dataclass(frozen=True)
class StimulusRecord:
    item: str
    condition: str
    kind: str
    path: str  # relative to the manifest's folder
    sha256: str
    loudness_lufs: float
    gain_db: float
    codec: str | None = None
    nominal_kbps: float | None = None
    measured_kbps: float | None = None
    delay_removed_samples: int = 0
    residual_lag_ms: float = 0.0
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Manifest:
    study_name: str
    study_hash: str
    sample_rate: int
    channels: int
    loudness_target_lufs: float
    items: tuple[ItemRecord, ...]
    conditions: tuple[ConditionRecord, ...]
    stimuli: tuple[StimulusRecord, ...]
    rater: dict[str, Any] = dataclasses.field(default_factory=dict)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # resampler, fades, harness version...
    schema_version: int = SCHEMA_VERSION

    # --- lookups ------------------------------------------------------------------------------------------
    def stimulus(self, item: str, condition: str) -> StimulusRecord:
        for s in self.stimuli:
            if s.item == item and s.condition == condition:
                return s
        raise KeyError((item, condition))

    def stimuli_for(self, item: str) -> list[StimulusRecord]:
        return [s for s in self.stimuli if s.item == item]

    def condition(self, cid: str) -> ConditionRecord:
        for c in self.conditions:
            if c.id == cid:
                return c
        raise KeyError(cid)

    # --- (de)serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"format": FORMAT, **d}

    def save(self, folder: str | Path) -> Path:
        return atomic_write(Path(folder) / "manifest.json", json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "manifest") -> "Manifest":
        if d.get("format") != FORMAT:
            raise ManifestError(f"{source}: not a mushra-harness manifest (format tag {d.get('format')!r})")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{source}: manifest schema version {version} is not supported by this harness (expects "
                f"{SCHEMA_VERSION}); re-run `mushra prepare` with this version to rebuild it."
            )
        try:
            return cls(
                study_name=d["study_name"], study_hash=d["study_hash"], sample_rate=int(d["sample_rate"]),
                channels=int(d["channels"]), loudness_target_lufs=float(d["loudness_target_lufs"]),
                items=tuple(ItemRecord(**i) for i in d["items"]),
                conditions=tuple(ConditionRecord(**c) for c in d["conditions"]),
                stimuli=tuple(StimulusRecord(**s) for s in d["stimuli"]),
                rater=dict(d.get("rater", {})), settings=dict(d.get("settings", {})), schema_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{source}: malformed manifest ({exc}); re-run `mushra prepare`.") from exc


def load_manifest(folder_or_file: str | Path) -> tuple[Manifest, Path]:
    """Load ``manifest.json`` from a prepared-study folder (or the file itself). Returns it and its folder."""
    p = Path(folder_or_file)
    path = p / "manifest.json" if p.is_dir() else p
    data = read_json(path, error=ManifestError,
                     missing=f"no manifest here. Run `mushra prepare STUDY.toml --out {path.parent}` first.",
                     corrupt_hint="; re-run `mushra prepare`.")
    return Manifest.from_dict(data, source=str(path)), path.parent
