"""Why a codec x bitrate cell of a ladder is empty: one readable reason per cell (``mushra codecs --ladder``)."""

from __future__ import annotations

from typing import Any

from harness.codecs.base import BitrateSpec


def _k(x: float) -> str:
    return f"{x:.6g}"


def unsupported_reason(spec: BitrateSpec, kbps: float) -> str | None:
    """Why ``spec`` has no operating point at ``kbps`` (None if it has one)."""
    if spec.supports(kbps):
        return None
    step = getattr(spec, "kbps_per_codebook", None)
    if step is not None:  # a residual-VQ codec: any whole number of codebooks
        n = kbps / step
        top = spec.max_codebooks * step
        if n > spec.max_codebooks:
            return f"above its highest rate {_k(top)} kbps ({spec.max_codebooks} codebooks)"
        near = ", ".join(f"{_k(k)} ({round(k / step)} codebook{'s' if round(k / step) > 1 else ''})"
                         for k in spec.nearest(kbps))
        return f"{_k(kbps)} kbps is {n:.3g} codebooks of {_k(step)} kbps; nearest {near}"
    lows = list(spec.points) + ([spec.range[0]] if spec.range else [])
    highs = list(spec.points) + ([spec.range[1]] if spec.range else [])
    if lows and kbps < min(lows):
        return f"below its lowest rate {_k(min(lows))} kbps"
    if highs and kbps > max(highs):
        return f"above its highest rate {_k(max(highs))} kbps"
    near = " and ".join(_k(k) for k in spec.nearest(kbps))
    return f"not an operating point ({spec.describe()}); nearest {near} kbps"


def cell_reasons(cls: Any, ladder: list[float], *, usable: bool, reason: str) -> dict[str, str | None]:
    """``{"1.5": None or why the cell is empty}`` for one codec class; an unusable codec's supported cells say so
    (``reason``, why it cannot run here, is printed once per codec)."""
    out: dict[str, str | None] = {}
    for k in ladder:
        why = unsupported_reason(cls.bitrates, float(k))
        if why is None and not usable:
            why = "has this operating point but cannot run here (reason below)"
        out[f"{k:g}"] = why
    return out
