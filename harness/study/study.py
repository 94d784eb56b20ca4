"""The study file: a TOML document (``schema_version = 1``) describing items, conditions, anchors, signal
settings and rater settings, parsed into frozen dataclasses and validated with line-precise errors
(``StudyError("study.toml:12: ...")``). Relative paths are relative to the study file.

See ``docs/core.md`` for the reference and :data:`harness.study.example.EXAMPLE` for a commented example.
Limits follow ITU-R BS.1534-3: at most 12 signals per trial (hidden reference and anchors included), excerpts of
about 10 s and at most 12 s.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import tomllib
import warnings
from pathlib import Path
from typing import Any, Mapping

from harness.errors import StudyError
from harness.files import AUDIO_SUFFIXES, file_sha256, scan_audio  # noqa: F401 - file_sha256 re-exported
from harness.study.rules import (
    ID_PATTERN, ANCHORS, CATEGORIES, MAX_SIGNALS_PER_TRIAL, RaterSettings, SCHEMA_VERSION, check_rater,
    resolve_condition_problem,
)
from harness.study.conditions import ConditionSpec, parse_conditions
from harness.study.tomlpos import KeyLines

__all__ = ["Study", "ItemSpec", "ConditionSpec", "RaterSettings", "load_study", "file_sha256", "SCHEMA_VERSION",
           "ANCHORS", "CATEGORIES", "MAX_SIGNALS_PER_TRIAL"]

TOP_KEYS = ("schema_version", "name", "sample_rate", "channels", "loudness_lufs", "peak_ceiling_dbfs",
            "excerpt_seconds", "fade_ms", "anchors", "items", "items_dir", "conditions", "ladder", "rater")
ITEM_KEYS = ("id", "file", "start", "duration", "category")


@dataclasses.dataclass(frozen=True)
class ItemSpec:
    id: str
    file: str  # absolute path
    category: str = "other"
    start: float = 0.0  # seconds into the file
    duration: float | None = None  # seconds; None: the study's excerpt_seconds (or to the end of a shorter file)


@dataclasses.dataclass(frozen=True)
class Study:
    path: str
    name: str
    sample_rate: int
    channels: int
    items: tuple[ItemSpec, ...]
    conditions: tuple[ConditionSpec, ...]
    anchors: tuple[str, ...] = ANCHORS
    loudness_lufs: float = -23.0
    peak_ceiling_dbfs: float = -1.0
    excerpt_seconds: float = 10.0
    fade_ms: float = 5.0
    rater: RaterSettings = dataclasses.field(default_factory=RaterSettings)
    skipped: tuple[Mapping[str, Any], ...] = ()  # ladder cells a codec cannot do, with the nearest points
    schema_version: int = SCHEMA_VERSION

    @property
    def folder(self) -> Path:
        return Path(self.path).parent

    def where(self, condition: ConditionSpec) -> str:
        """``study.toml:LINE`` of a condition, for error messages."""
        return f"{Path(self.path).name}:{condition.line or 1}"

    @property
    def signals_per_trial(self) -> int:
        """Hidden reference + anchors + codec conditions."""
        return 1 + len(self.anchors) + len(self.conditions)

    def stimulus_settings(self) -> dict[str, Any]:
        """Every study setting that changes the stimuli (not the rater settings)."""
        return {"sample_rate": self.sample_rate, "channels": self.channels, "loudness_lufs": self.loudness_lufs,
                "peak_ceiling_dbfs": self.peak_ceiling_dbfs, "excerpt_seconds": self.excerpt_seconds,
                "fade_ms": self.fade_ms, "anchors": list(self.anchors)}

    def hash(self) -> str:
        """sha256 (hex) of everything that changes the stimuli: signal settings, item audio content and excerpt
        bounds, conditions with their options. Stable across runs and machines; independent of paths."""
        doc = {
            "schema_version": self.schema_version, **self.stimulus_settings(),
            "items": [[i.id, file_sha256(i.file), i.start, i.duration, i.category] for i in self.items],
            "conditions": [[c.id, c.codec, c.kbps, dict(c.options)] for c in self.conditions],
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def rater_dict(self) -> dict[str, Any]:
        """Rater settings with every default filled in (codes derived from the study hash)."""
        return self.rater.filled(n_items=len(self.items), study_hash=self.hash())


class _Ctx:
    """Error helper: knows the file name and the line of every key."""

    def __init__(self, path: Path, text: str) -> None:
        self.name, self.keys = path.name, KeyLines(text)

    def error(self, path: tuple, msg: str) -> StudyError:
        return StudyError(f"{self.name}:{self.keys.line(*path)}: {msg}")

    def unknown_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], path: tuple, where: str) -> None:
        for key in table:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f" Did you mean '{near[0]}'?" if near else f" Valid keys: {', '.join(allowed)}."
                raise self.error(path + (key,), f"unknown key '{key}' in {where}.{hint}")

    def get(self, table: Mapping[str, Any], key: str, kind: str, path: tuple, default: Any = None, *,
            required: bool = False) -> Any:
        if key not in table:
            if required:
                raise self.error(path, f"missing required key '{key}'")
            return default
        val = table[key]
        ok = {"int": isinstance(val, int) and not isinstance(val, bool),
              "number": isinstance(val, (int, float)) and not isinstance(val, bool),
              "bool": isinstance(val, bool), "str": isinstance(val, str), "list": isinstance(val, list),
              "table": isinstance(val, dict)}[kind]
        if not ok:
            raise self.error(path + (key,), f"'{key}' must be {_KIND[kind]}, got {val!r}")
        return float(val) if kind == "number" else val


_KIND = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string",
         "list": "a list", "table": "a table"}


def load_study(path: str | Path) -> Study:
    """Parse and validate a study file. Raises :class:`StudyError` with ``file:line:`` on any problem."""
    p = Path(path).resolve()
    if not p.is_file():
        raise StudyError(f"{path}: study file not found. Create one with `mushra init {path}`.")
    text = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise StudyError(f"{p.name}:{m.group(1) if m else 1}: TOML syntax error: {exc}") from None
    ctx = _Ctx(p, text)
    ctx.unknown_keys(doc, TOP_KEYS, (), "the study file")
    version = ctx.get(doc, "schema_version", "int", (), required=True)
    if version != SCHEMA_VERSION:
        raise ctx.error(("schema_version",), f"schema_version {version} is not supported; this harness reads "
                                             f"version {SCHEMA_VERSION}")
    name = ctx.get(doc, "name", "str", (), p.stem)
    sr = ctx.get(doc, "sample_rate", "int", (), 48000)
    if not 8000 <= sr <= 192000:
        raise ctx.error(("sample_rate",), f"sample_rate {sr} Hz is outside 8000-192000")
    channels = ctx.get(doc, "channels", "int", (), 1)
    if channels not in (1, 2):
        raise ctx.error(("channels",), f"channels must be 1 (mono) or 2 (stereo), got {channels}")
    lufs = ctx.get(doc, "loudness_lufs", "number", (), -23.0)
    if not -70.0 < lufs < 0.0:
        raise ctx.error(("loudness_lufs",), f"loudness_lufs {lufs:g} must be between -70 and 0 LUFS (e.g. -23)")
    peak = ctx.get(doc, "peak_ceiling_dbfs", "number", (), -1.0)
    if not -40.0 <= peak <= 0.0:
        raise ctx.error(("peak_ceiling_dbfs",), f"peak_ceiling_dbfs {peak:g} must be between -40 and 0 dBFS")
    exc_s = ctx.get(doc, "excerpt_seconds", "number", (), 10.0)
    if not 0.5 <= exc_s <= 60.0:
        raise ctx.error(("excerpt_seconds",), f"excerpt_seconds {exc_s:g} must be between 0.5 and 60")
    if exc_s > 12.0:
        warnings.warn(f"{p.name}:{ctx.keys.line('excerpt_seconds')}: excerpt_seconds {exc_s:g} is above the 12 s "
                      "ITU-R BS.1534-3 recommends (about 10 s); raters' memory suffers", UserWarning, stacklevel=2)
    fade = ctx.get(doc, "fade_ms", "number", (), 5.0)
    if not 0.0 <= fade <= 100.0:
        raise ctx.error(("fade_ms",), f"fade_ms {fade:g} must be between 0 and 100 ms (5 is usual)")
    anchors = ctx.get(doc, "anchors", "list", (), list(ANCHORS))
    for a in anchors:
        if a not in ANCHORS:
            raise ctx.error(("anchors",), f"unknown anchor {a!r}; anchors are {', '.join(ANCHORS)} (BS.1534-3 "
                                          "low-pass anchors at 3.5 and 7 kHz)")
    if len(set(anchors)) != len(anchors):
        raise ctx.error(("anchors",), "anchors are listed twice")
    items = _items(doc, ctx, p.parent)
    conditions, skipped = parse_conditions(doc, ctx)
    rater = check_rater(ctx, doc.get("rater", {}), n_items=len(items))
    total = 1 + len(anchors) + len(conditions)
    if total > rater.max_signals_per_trial:
        where = ("ladder",) if "ladder" in doc else ("conditions",)
        raise ctx.error(where, f"{total} signals per trial (hidden reference + {len(anchors)} anchors + "
                               f"{len(conditions)} conditions) exceed the maximum of {rater.max_signals_per_trial} "
                               "(ITU-R BS.1534-3 allows at most 12). Split the conditions into several studies or "
                               "drop some.")
    problem = resolve_condition_problem(rater.resolve, {c.id for c in conditions} | set(anchors) | {"reference"})
    if problem:
        raise ctx.error(("rater", "resolve"), problem)
    return Study(path=str(p), name=name, sample_rate=sr, channels=channels, items=tuple(items),
                 conditions=tuple(conditions), anchors=tuple(anchors), loudness_lufs=lufs, peak_ceiling_dbfs=peak,
                 excerpt_seconds=exc_s, fade_ms=fade, rater=rater, skipped=tuple(skipped))


def _items(doc: dict, ctx: _Ctx, base: Path) -> list[ItemSpec]:
    if "items" in doc and "items_dir" in doc:
        raise ctx.error(("items_dir",), "use either [[items]] or items_dir, not both")
    items: list[ItemSpec] = []
    if "items_dir" in doc:
        folder = base / ctx.get(doc, "items_dir", "str", ())
        if not folder.is_dir():
            raise ctx.error(("items_dir",), f"items_dir '{doc['items_dir']}' is not a folder (resolved to {folder})")
        for f in scan_audio(folder):  # prepared study folders inside are output, not items
            rel = f.relative_to(folder)
            sub = rel.parts[0].lower() if len(rel.parts) > 1 else "other"
            items.append(ItemSpec(id=re.sub(r"[^A-Za-z0-9._+-]", "_", f.stem), file=str(f),
                                  category=sub if sub in CATEGORIES else "other"))
        if not items:
            raise ctx.error(("items_dir",), f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {folder}")
    else:
        table = ctx.get(doc, "items", "list", (), required=True)
        for i, it in enumerate(table):
            path = ("items", i)
            if not isinstance(it, dict):
                raise ctx.error(("items",), "items must be written as [[items]] tables")
            ctx.unknown_keys(it, ITEM_KEYS, path, "[[items]]")
            file = ctx.get(it, "file", "str", path, required=True)
            f = (base / file).resolve()
            if not f.is_file():
                raise ctx.error(path + ("file",), f"audio file '{file}' not found (resolved to {f}); paths are "
                                                  "relative to the study file")
            iid = ctx.get(it, "id", "str", path, re.sub(r"[^A-Za-z0-9._+-]", "_", f.stem))
            if not ID_PATTERN.match(iid):
                raise ctx.error(path + ("id",), f"item id {iid!r} may use only letters, digits and . _ + -")
            cat = ctx.get(it, "category", "str", path, "other")
            if cat not in CATEGORIES:
                raise ctx.error(path + ("category",), f"category {cat!r} must be one of {', '.join(CATEGORIES)}")
            start = ctx.get(it, "start", "number", path, 0.0)
            if start < 0:
                raise ctx.error(path + ("start",), f"start {start:g} s must not be negative")
            dur = ctx.get(it, "duration", "number", path, None)
            if dur is not None and dur <= 0:
                raise ctx.error(path + ("duration",), f"duration {dur:g} s must be positive")
            items.append(ItemSpec(id=iid, file=str(f), category=cat, start=start, duration=dur))
        if not items:
            raise ctx.error(("items",), "the study has no items; add [[items]] tables or set items_dir")
    seen: dict[str, str] = {}
    for it in items:
        if it.id in seen:
            raise ctx.error(("items_dir",) if "items_dir" in doc else ("items",),
                            f"item id '{it.id}' is used twice ({seen[it.id]} and {it.file}); ids must be unique")
        seen[it.id] = it.file
    return items
