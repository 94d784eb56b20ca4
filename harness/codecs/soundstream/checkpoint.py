"""Checkpoint files: full training state (resumable) and the small generator-only export the adapter loads.

Both carry a format tag checked on load. Writes are atomic (temporary file + ``os.replace``), so an interrupted
run never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from harness.codecs.base import CodecUnavailable
from harness.files import file_sha256  # noqa: F401 - re-exported
from harness.codecs.soundstream.model import SoundStream, SoundStreamConfig

TRAIN_FORMAT = "soundstream-train/1"
GENERATOR_FORMAT = "soundstream-generator/1"
# EMA statistics needed only for training; left out of the generator export
_TRAIN_ONLY_BUFFERS = ("embed_sum", "cluster_size")


def atomic_save(obj: Any, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, p)


def load_train_state(path: str | Path) -> dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != TRAIN_FORMAT:
        raise CodecUnavailable(f"{path}: not a SoundStream training checkpoint (format {TRAIN_FORMAT})")
    return state


def save_generator(model: SoundStream, out: str | Path, *, step: int = 0, half: bool = True,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model``'s generator weights + config in the export format (e.g. a random-weight test model)."""
    weights = {k: (v.half() if (half and v.is_floating_point()) else v) for k, v in model.state_dict().items()
               if k.rsplit(".", 1)[-1] not in _TRAIN_ONLY_BUFFERS}
    meta = {"format": GENERATOR_FORMAT, "config": model.cfg.to_dict(), "step": step,
            "dtype": "float16" if half else "float32", "state_dict": weights, **(extra or {})}
    atomic_save(meta, out)
    return meta


def export_generator(train_ckpt: str | Path, out: str | Path, *, half: bool = True) -> dict[str, Any]:
    """Write the generator weights + config (fp16 floats if ``half``) from a training checkpoint to ``out``."""
    st = load_train_state(train_ckpt)
    weights = {}
    for k, v in st["generator"].items():
        if k.rsplit(".", 1)[-1] in _TRAIN_ONLY_BUFFERS:
            continue
        weights[k] = v.half() if (half and v.is_floating_point()) else v
    meta = {
        "format": GENERATOR_FORMAT,
        "config": st["model_config"],
        "step": st["step"],
        "wall_time_s": st.get("wall_time_s"),
        "train_config": st.get("train_config"),
        "dtype": "float16" if half else "float32",
        "state_dict": weights,
    }
    atomic_save(meta, out)
    return meta


def load_generator(path: str | Path, *, device: str = "cpu") -> tuple[SoundStream, dict[str, Any]]:
    """Build the generator stored in ``path`` (a generator export or a training checkpoint) in eval mode (fp32).
    Returns it and ``{"step", "config", "path", "format"}`` (``format``: which of the two the file is)."""
    p = Path(path)
    if not p.is_file():
        raise CodecUnavailable(
            f"SoundStream checkpoint {p} not found. Pass checkpoint=PATH to a file written by "
            "`mushra soundstream export`, or reinstall the package to get the shipped one."
        )
    try:
        st = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CodecUnavailable(f"{p}: cannot read the SoundStream checkpoint ({exc}); re-export it") from exc
    if isinstance(st, dict) and st.get("format") == TRAIN_FORMAT:
        cfg_d, weights, step = st["model_config"], st["generator"], st["step"]
    elif isinstance(st, dict) and st.get("format") == GENERATOR_FORMAT:
        cfg_d, weights, step = st["config"], st["state_dict"], st["step"]
    else:
        raise CodecUnavailable(f"{p}: not a SoundStream checkpoint (expected format {GENERATOR_FORMAT})")
    model = SoundStream(SoundStreamConfig.from_dict(cfg_d))
    weights = {k: (v.float() if v.is_floating_point() else v) for k, v in weights.items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    bad = [k for k in missing if k.rsplit(".", 1)[-1] not in _TRAIN_ONLY_BUFFERS]
    if bad or unexpected:
        raise CodecUnavailable(f"{p}: weights do not match the stored config (missing {bad[:3]}, "
                               f"unexpected {list(unexpected)[:3]})")
    model.eval().to(device)
    return model, {"step": int(step), "config": model.cfg, "path": str(p), "format": st["format"]}
