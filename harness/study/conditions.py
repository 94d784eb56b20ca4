"""``[[conditions]]`` and ``[ladder]`` of the study file: parsed and checked against the codec registry
(codec names, bitrates with the nearest supported points); a ladder expands to ``<codec>_<kbps>kbps``
conditions for every cell the codec supports, recording the others as skipped."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from harness.vocabulary import ANCHORS, HIDDEN_REFERENCE, ID_PATTERN, condition_id

CONDITION_KEYS = ("id", "codec", "kbps", "options")
LADDER_KEYS = ("codecs", "kbps", "skip_unsupported", "options")


@dataclasses.dataclass(frozen=True)
class ConditionSpec:
    id: str
    codec: str
    kbps: float
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    line: int = dataclasses.field(default=0, compare=False)  # where it is defined in the study file



def _codec_class(ctx, name: str, path: tuple):
    from harness.codecs import UnknownCodec, get_codec_class

    try:
        return get_codec_class(name)
    except UnknownCodec as exc:
        raise ctx.error(path, str(exc)) from None


def parse_conditions(doc: dict, ctx) -> tuple[list[ConditionSpec], list[dict]]:
    """Conditions and skipped ladder cells; ``ctx`` is the study parser's error helper."""
    from harness.codecs import UnsupportedBitrate

    conds: list[ConditionSpec] = []
    skipped: list[dict] = []
    for i, c in enumerate(ctx.get(doc, "conditions", "list", (), [])):
        path = ("conditions", i)
        if not isinstance(c, dict):
            raise ctx.error(("conditions",), "conditions must be written as [[conditions]] tables")
        ctx.unknown_keys(c, CONDITION_KEYS, path, "[[conditions]]")
        codec = ctx.get(c, "codec", "str", path, required=True)
        kbps = ctx.get(c, "kbps", "number", path, required=True)
        options = dict(ctx.get(c, "options", "table", path, {}))
        cls = _codec_class(ctx, codec, path + ("codec",))
        try:
            cls.bitrates.check(codec, kbps)
        except UnsupportedBitrate as exc:
            raise ctx.error(path + ("kbps",), str(exc)) from None
        if codec == "command":
            for key in ("encode", "decode"):
                if not isinstance(options.get(key), str) or not options[key].strip():
                    raise ctx.error(path + ("options",), f"codec 'command' needs options.{key} = \"a command "
                                                         "template\" (see docs/codecs.md)")
        cid = ctx.get(c, "id", "str", path, condition_id(codec, kbps))
        conds.append(ConditionSpec(id=cid, codec=codec, kbps=kbps, options=options, line=ctx.keys.line(*path)))
    if "ladder" in doc:
        conds += _ladder(doc, ctx, skipped)
    if not conds:
        raise ctx.error(("conditions",), "the study has no conditions; add [[conditions]] tables or a [ladder]")
    seen: set[str] = set()
    for i, c in enumerate(conds):
        if not ID_PATTERN.match(c.id) or c.id in (HIDDEN_REFERENCE, *ANCHORS):
            raise ctx.error(("conditions", i, "id"), f"condition id {c.id!r} must use only letters, digits and "
                                                     ". _ + -, and must not be 'reference', 'lp3.5' or 'lp7'")
        if c.id in seen:
            where = ("conditions", i, "id") if i < len(doc.get("conditions", [])) else ("ladder",)
            raise ctx.error(where, f"condition id '{c.id}' appears twice; give each condition a unique id")
        seen.add(c.id)
    return conds, skipped


def _ladder(doc: dict, ctx, skipped: list[dict]) -> list[ConditionSpec]:
    """Conditions of the ``[ladder]`` table; unsupported cells go to ``skipped`` (or are an error)."""
    from harness.codecs import UnsupportedBitrate

    out: list[ConditionSpec] = []
    lad = ctx.get(doc, "ladder", "table", ())
    ctx.unknown_keys(lad, LADDER_KEYS, ("ladder",), "[ladder]")
    codecs = ctx.get(lad, "codecs", "list", ("ladder",), required=True)
    rungs = ctx.get(lad, "kbps", "list", ("ladder",), required=True)
    skip = ctx.get(lad, "skip_unsupported", "bool", ("ladder",), True)
    opts = ctx.get(lad, "options", "table", ("ladder",), {})
    if not all(isinstance(k, (int, float)) and not isinstance(k, bool) and k > 0 for k in rungs):
        raise ctx.error(("ladder", "kbps"), f"ladder kbps must be positive numbers, got {rungs!r}")
    for codec in codecs:
        if not isinstance(codec, str):
            raise ctx.error(("ladder", "codecs"), f"ladder codecs must be names, got {codec!r}")
        cls = _codec_class(ctx, codec, ("ladder", "codecs"))
        for k in rungs:
            if cls.bitrates.supports(float(k)):
                out.append(ConditionSpec(id=condition_id(codec, k), codec=codec, kbps=float(k),
                                           options=dict(opts.get(codec, {})), line=ctx.keys.line("ladder")))
            elif skip:
                skipped.append({"codec": codec, "kbps": float(k), "nearest": cls.bitrates.nearest(float(k)),
                                "reason": f"{codec} supports {cls.bitrates.describe()}"})
            else:
                try:
                    cls.bitrates.check(codec, float(k))
                except UnsupportedBitrate as exc:
                    raise ctx.error(("ladder", "kbps"), f"{exc} (or set skip_unsupported = true)") from None
    return out
