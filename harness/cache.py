"""The one content-addressed cache: ``mushra prepare``'s intermediate audio (``DIR/.cache/``) and ``evaluate``'s
results (``OUT/.cache/``).

A key is the sha256 of a canonical JSON document of everything that determines the result (source audio hash,
excerpt settings, codec name, kbps, options, codec library versions, harness version, ...). An entry is a
``KEY.npy`` (float32 audio, optional) plus a ``KEY.json`` (metadata); the JSON is written last and both are
written atomically (temp file + rename), so an interrupted run leaves either a complete entry or none.
Format version :data:`CACHE_FORMAT` is part of every key: a harness with another format never reads old entries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import atomic_write, json_sha256

CACHE_FORMAT = 1


def cache_key(**parts: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``parts`` (plus the cache format version)."""
    return json_sha256({"cache_format": CACHE_FORMAT, **parts})


class Cache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        return self._path(key, ".json").exists()

    def get(self, key: str, *, with_audio: bool = True) -> tuple[np.ndarray | None, dict[str, Any]] | None:
        """``(audio or None, meta)`` for a complete entry, else ``None`` (also for a damaged entry)."""
        meta_path = self._path(key, ".json")
        try:
            meta = json.loads(meta_path.read_text())
            audio = None
            if with_audio and meta.get("_has_audio"):
                audio = np.load(self._path(key, ".npy"), allow_pickle=False)
        except (OSError, ValueError):
            return None
        meta.pop("_has_audio", None)
        return audio, meta

    def put(self, key: str, meta: dict[str, Any], audio: np.ndarray | None = None) -> None:
        path = self._path(key, ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio is not None:
            npy = self._path(key, ".npy")
            tmp = npy.with_name(f"{npy.stem}.{os.getpid()}.part.npy")
            np.save(tmp, np.ascontiguousarray(audio, dtype=np.float32), allow_pickle=False)
            tmp.replace(npy)
        atomic_write(path, json.dumps({**meta, "_has_audio": audio is not None}, sort_keys=True, default=str))
