"""Weights of the transformers-based codecs other than EnCodec (DAC, Mimi): where they are looked for, how users
online fetch them, and the bitrate grid of a residual-VQ codec (any whole number of codebooks).

Search order per model (first hit wins), as for EnCodec (:mod:`harness.codecs.weights`):

1. the adapter option ``weights=PATH`` (a ``save_pretrained`` folder),
2. ``$<ENV>/<name>`` (``MUSHRA_DAC_DIR`` for the DAC models, ``MUSHRA_MIMI_DIR`` for Mimi),
3. the harness cache ``<cache>/<family>/<name>`` (where ``mushra models fetch NAME`` saves it),
4. the Hugging Face hub cache of the published model (offline lookup only).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from harness.codecs.base import BitrateSpec, CodecUnavailable


@dataclasses.dataclass(frozen=True)
class HubModel:
    name: str  # our codec / model name
    hub_id: str  # the published model on the Hugging Face hub
    family: str  # cache sub-folder
    env: str  # environment variable naming a folder that holds <name>/
    model_class: str  # transformers class
    licence: str


HUB_MODELS: dict[str, HubModel] = {m.name: m for m in (
    HubModel("dac_16khz", "descript/dac_16khz", "dac", "MUSHRA_DAC_DIR", "DacModel", "MIT (code and weights)"),
    HubModel("dac_24khz", "descript/dac_24khz", "dac", "MUSHRA_DAC_DIR", "DacModel", "MIT (code and weights)"),
    HubModel("dac_44khz", "descript/dac_44khz", "dac", "MUSHRA_DAC_DIR", "DacModel", "MIT (code and weights)"),
    HubModel("mimi", "kyutai/mimi", "mimi", "MUSHRA_MIMI_DIR", "MimiModel", "CC-BY 4.0 (weights)"),
)}


def default_dest(name: str) -> Path:
    from harness.codecs.weights import cache_root

    return cache_root() / HUB_MODELS[name].family / name


def candidates(name: str, weights: str | os.PathLike | None = None) -> list[tuple[str, Path | str]]:
    """``(how it was chosen, folder or hub id)`` in search order."""
    m = HUB_MODELS[name]
    out: list[tuple[str, Path | str]] = []
    if weights:
        out.append(("option weights", Path(weights).expanduser()))
    if os.environ.get(m.env):
        out.append((f"${m.env}", Path(os.environ[m.env]).expanduser() / name))
    out.append(("cache", default_dest(name)))
    out.append(("Hugging Face cache", m.hub_id))
    return out


def find_weights(name: str, weights: str | os.PathLike | None = None) -> tuple[str, Path]:
    """``(source description, folder)`` of a loadable ``from_pretrained`` folder, or :class:`CodecUnavailable`."""
    from harness.codecs.weights import find_pretrained

    return find_pretrained(name, candidates(name, weights), label=name, env=HUB_MODELS[name].env)


def fetch(name: str, dest: Path | None = None, *, progress=None) -> Path:
    """Download the published model from the Hugging Face hub and ``save_pretrained`` it into ``dest``."""
    from harness.codecs.weights import fetch_pretrained

    m = HUB_MODELS[name]
    return fetch_pretrained(m.model_class, m.hub_id, Path(dest) if dest else default_dest(name), progress=progress)


@dataclasses.dataclass(frozen=True)
class CodebookBitrates(BitrateSpec):
    """Bitrates of a residual-VQ codec: ``n x kbps_per_codebook`` for n = 1..``max_codebooks``.

    ``points`` (shown by ``mushra codecs``) are the published operating points; every other whole number of
    codebooks is accepted too, since the bitrate is exact for any count.
    """

    kbps_per_codebook: float = 1.0
    max_codebooks: int = 1

    def codebooks(self, kbps: float) -> int | None:
        n = kbps / self.kbps_per_codebook  # tolerance 0.01 codebook: "1.72" names DAC 44 kHz's 1.7227 kbps
        if abs(n - round(n)) < 0.01 and 1 <= round(n) <= self.max_codebooks:
            return int(round(n))
        return None

    def supports(self, kbps: float) -> bool:
        return self.codebooks(kbps) is not None

    def nearest(self, kbps: float, count: int = 2) -> list[float]:
        n = kbps / self.kbps_per_codebook
        cands = {min(max(k, 1), self.max_codebooks) for k in (math.floor(n), math.ceil(n))}
        return sorted(round(k * self.kbps_per_codebook, 6) for k in cands)[:count]

    def describe(self) -> str:
        step = f"{self.kbps_per_codebook:.6g}"
        top = f"{self.max_codebooks * self.kbps_per_codebook:.6g}"
        return f"{step} kbps per codebook x 1..{self.max_codebooks} ({step}-{top} kbps)"
