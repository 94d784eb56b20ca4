"""File helpers used everywhere: content hashes, atomic writes, and the one audio-folder scanner.

Nothing here knows about studies, codecs or ratings; every part of the harness may import it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

# What soundfile (libsndfile) reads, by file suffix, plus MP3 (libsndfile >= 1.1 decodes it). Formats the
# installed libsndfile lacks are left out, so a listed suffix is always readable.
_SUFFIXES_BY_FORMAT = {
    "WAV": (".wav", ".wave"), "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"),
    "AIFF": (".aiff", ".aif", ".aifc"), "AU": (".au", ".snd"), "CAF": (".caf",), "W64": (".w64",),
    "RF64": (".rf64",), "MP3": (".mp3",),
}


def _audio_suffixes() -> tuple[str, ...]:
    try:
        import soundfile as sf

        formats = set(sf.available_formats())
    except (ImportError, OSError):  # no libsndfile: the common formats (reading them will say what is missing)
        formats = {"WAV", "FLAC", "OGG", "AIFF", "MP3"}
    return tuple(s for fmt, sx in _SUFFIXES_BY_FORMAT.items() if fmt in formats or fmt == "MP3" for s in sx)


AUDIO_SUFFIXES = _audio_suffixes()


def is_audio_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def scan_audio(*folders: str | Path) -> list[Path]:
    """Every audio file (:data:`AUDIO_SUFFIXES`, any case) under ``folders``, sorted, recursively.

    Skipped: hidden files and folders (``.cache`` ...), and prepared study folders (those holding a
    ``manifest.json``: they are output of ``mushra prepare``, not source audio)."""
    out: list[Path] = []
    for folder in map(Path, folders):
        for root, dirs, files in os.walk(folder):
            if "manifest.json" in files and Path(root) != folder:
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                             not (Path(root, d) / "manifest.json").is_file())
            out += [Path(root, f) for f in files if not f.startswith(".") and is_audio_file(f)]
    return sorted(out)


@functools.lru_cache(maxsize=4096)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes, memoised per process on (path, modification time, size)."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_cached(str(p), st.st_mtime_ns, st.st_size)


def json_sha256(doc: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``doc`` (sorted keys, compact; non-JSON values as ``str``)."""
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_json(path: str | Path, *, error: type[Exception], missing: str, corrupt_hint: str = "") -> Any:
    """The JSON document in ``path``; ``error(...)`` saying ``missing`` when there is no such file, or that the
    file is corrupt (plus ``corrupt_hint``)."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: {missing}")
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{p}: corrupt JSON ({exc}){corrupt_hint}") from exc


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so readers see the
    old file or the new one, never half of it. Creates parent folders."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def atomic_write_json(path: str | Path, doc: Any, *, indent: int | None = None) -> Path:
    return atomic_write(path, json.dumps(doc, indent=indent, default=str) + ("\n" if indent else ""))
