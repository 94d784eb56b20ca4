"""Codec adapters behind one small interface (:class:`~harness.codecs.base.Codec`) and a name registry.

Built-in adapters register themselves when their module is imported; third-party packages register theirs
through the ``harness.codecs`` entry-point group (``name = "package.module:CodecClass"``).
"""

from __future__ import annotations

import importlib
import warnings
from importlib import metadata
from typing import Any

from harness.codecs.base import (
    BitrateSpec,
    Codec,
    CodecError,
    CodecResult,
    CodecUnavailable,
    UnsupportedBitrate,
    codec_availability,
    transcode,
)

__all__ = [
    "BitrateSpec", "Codec", "CodecError", "CodecResult", "CodecUnavailable", "UnsupportedBitrate",
    "UnknownCodec", "register", "get_codec_class", "create_codec", "codec_names", "transcode", "codec_availability",
]

ENTRY_POINT_GROUP = "harness.codecs"

# Built-in adapter modules, imported lazily on first registry use so `import harness.codecs` stays cheap.
_BUILTIN_MODULES = (
    "harness.codecs.opus",
    "harness.codecs.encodec",
    "harness.codecs.lyra",
    "harness.codecs.command",
    "harness.codecs.soundstream",
    "harness.codecs.codec2",
    "harness.codecs.lc3",
    "harness.codecs.dac",
    "harness.codecs.mimi",
    "harness.codecs.soundstream_ec",
)

_REGISTRY: dict[str, type[Codec]] = {}
_loaded = False


class UnknownCodec(CodecError):
    """No codec is registered under that name."""


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not name or not isinstance(name, str):
        raise TypeError(f"{cls!r} needs a string class attribute 'name' to be registered")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls and not _same_definition(existing, cls):
        builtin, other = (existing, cls) if _is_builtin(existing) else (cls, existing)
        if not _is_builtin(builtin) or _is_builtin(other):  # two plug-ins, or two built-ins: a real conflict
            raise ValueError(f"codec name '{name}' is already registered by {_where(existing)}")
        warnings.warn(f"codec plug-in {_where(other)} is not used: the name '{name}' belongs to the built-in "
                      f"{_where(builtin)}. Give the plug-in's codec another name.", UserWarning, stacklevel=2)
        cls = builtin  # a plug-in never replaces a built-in, whichever was imported first
    _REGISTRY[name] = cls
    return cls


def _is_builtin(cls: type) -> bool:
    return cls.__module__.startswith("harness.codecs.")


def _same_definition(a: type, b: type) -> bool:
    """The same class defined again (its module re-imported), not another class of the same name."""
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # an adapter module not present in this build
            if exc.name != mod:
                raise
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plug-in must not break the built-in codecs
            warnings.warn(f"codec plug-in '{ep.name}' ({ep.value}) failed to load: {exc}", stacklevel=2)
            continue
        if getattr(cls, "name", None) != ep.name:
            warnings.warn(f"codec plug-in '{ep.name}' registers class named '{getattr(cls, 'name', None)}'", stacklevel=2)
        register(cls)


def codec_names() -> list[str]:
    """Names of every registered codec, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get_codec_class(name: str) -> type[Codec]:
    """The adapter class registered as ``name``; :class:`UnknownCodec` lists the valid names otherwise."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownCodec(
            f"unknown codec '{name}'. Registered codecs: {', '.join(sorted(_REGISTRY)) or 'none'}. "
            "Check the spelling, or install the package that provides it (entry-point group 'harness.codecs')."
        ) from None


def create_codec(name: str, *, kbps: float, **options: Any) -> Codec:
    """Instantiate codec ``name`` at ``kbps`` with adapter ``options``."""
    cls = get_codec_class(name)
    ok, reason = codec_availability(cls, **options)
    if not ok:
        raise CodecUnavailable(f"codec '{name}' is not usable here: {reason}")
    return cls(kbps=kbps, **options)


_INSTANCES: dict[tuple, Codec] = {}  # per process: one instance per configuration (models load once per worker)


def shared_codec(name: str, *, kbps: float, options: dict[str, Any] | None = None) -> Codec:
    """The process-wide instance of codec ``name`` at ``kbps`` with ``options`` (built on first use). Pool
    workers of ``prepare`` and ``evaluate`` use it so each loads a model once."""
    opts = dict(options or {})
    key = (name, float(kbps), repr(sorted(opts.items())))
    if key not in _INSTANCES:
        _INSTANCES[key] = create_codec(name, kbps=kbps, **opts)
    return _INSTANCES[key]
