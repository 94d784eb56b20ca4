"""Typed jobs for ``prepare``'s worker processes (frozen, picklable, every field named).

A :class:`Signal` is one rated signal of a trial (hidden reference, anchor or codec condition); a
:class:`RenderJob` renders one signal of one item into the cache; an :class:`ItemJob` aligns one item's signals
in loudness and writes its WAVs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from harness.vocabulary import ConditionKind


@dataclasses.dataclass(frozen=True, kw_only=True)
class Signal:
    """A signal of every trial. ``identity`` is everything that determines its audio (part of cache keys)."""

    id: str
    kind: ConditionKind
    identity: Mapping[str, Any]
    anchor: str | None = None
    codec: str | None = None
    kbps: float | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def render_args(self) -> dict[str, Any]:
        """Keyword arguments of :func:`harness.prepare.stimuli.render`."""
        return {"kind": str(self.kind), "anchor": self.anchor, "codec": self.codec, "kbps": self.kbps,
                "options": dict(self.options)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RenderJob:
    cache_root: str
    reference_key: str  # cache key of the item's reference excerpt
    output_key: str  # cache key the rendered signal is stored under
    sample_rate: int  # Hz
    signal: Signal
    item: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Part:
    """One signal of an item as the finishing step sees it: condition id, kind and its cache key."""

    condition: str
    kind: ConditionKind
    key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ItemJob:
    cache_root: str
    out: str  # the study folder the WAVs go to
    final_key: str  # cache key of the finished item's record
    item: str
    parts: tuple[Part, ...]
    sample_rate: int  # Hz
    target_lufs: float  # loudness target, LUFS (ITU-R BS.1770-4)
    peak_ceiling_dbfs: float  # highest sample peak allowed, dBFS
