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
import shutil
import tempfile
from pathlib import Path

from harness.codecs.base import BitrateSpec, CodecUnavailable
from harness.errors import HarnessError


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
    from harness.codecs.weights import _has_weights, _hub_cache_dir

    m = HUB_MODELS[name]
    tried = []
    for how, where in candidates(name, weights):
        if isinstance(where, str):
            folder = _hub_cache_dir(where)
            if folder is not None:
                return f"{where} (Hugging Face cache)", folder
            tried.append(f"{where} in the Hugging Face cache")
            continue
        if _has_weights(where):
            return str(where), where
        if how == "option weights":
            raise CodecUnavailable(
                f"{name} weights not found at {where} (option weights): expected a `save_pretrained` folder with "
                f"config.json and model.safetensors. Fix the path, or run `mushra models fetch {name} --dest DIR` "
                f"online and pass weights=DIR.")
        tried.append(str(where))
    raise CodecUnavailable(
        f"{name} weights not found at {', '.join(tried)}; run `mushra models fetch {name}` online or set "
        f"{m.env} / pass weights=PATH (or random_weights=true for a same-compute untrained model)")


def fetch(name: str, dest: Path | None = None, *, progress=None) -> Path:
    """Download the published model from the Hugging Face hub and ``save_pretrained`` it into ``dest``."""
    import transformers

    m = HUB_MODELS[name]
    dest = Path(dest) if dest else default_dest(name)
    if progress:
        progress(f"downloading {m.hub_id} from the Hugging Face hub")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = getattr(transformers, m.model_class).from_pretrained(m.hub_id, cache_dir=tmp)
        except OSError as exc:
            raise HarnessError(f"could not download {m.hub_id}: {str(exc).rstrip('. ')}. Check the network "
                               "connection, or copy a save_pretrained folder here and use weights=PATH.") from exc
        staging = dest.with_name(dest.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        shutil.rmtree(dest, ignore_errors=True)
        staging.replace(dest)
    return dest


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
