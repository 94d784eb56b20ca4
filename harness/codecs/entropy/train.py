"""Train the entropy coder's context model on SoundStream codes: one command,
``python scripts/train_entropy_model.py --data DIR/train`` (``--out`` defaults to the shipped model's path).

The codes are those the SoundStream adapter would send at 18 kbps (24 quantizers; the codes of a lower bitrate are
the first quantizers of these, since residual quantization is sequential): every WAV/FLAC under ``--data`` is
mixed to mono, resampled to 24 kHz with soxr VHQ (the same path :func:`harness.codecs.base.transcode` takes) and
encoded by the checkpoint, one file at a time.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

SUFFIXES = (".wav", ".flac")


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in SUFFIXES)


def codes_of_files(files: list[Path], checkpoint: Path, *, n_q: int | None = None, threads: int = 1
                   ) -> list[np.ndarray]:
    """SoundStream codes ``(frames, n_q)`` int64 of each file (all the checkpoint's quantizers by default).
    ``threads``: torch threads (one is about 10x faster than two on a loaded 2-core machine)."""
    import soundfile as sf
    import torch

    torch.set_num_threads(threads)
    from harness.audio import resample
    from harness.codecs.soundstream.adapter import load_model

    model, _meta = load_model(checkpoint)
    n_q = n_q or model.cfg.n_q
    out = []
    for f in files:
        x, sr = sf.read(str(f), dtype="float32", always_2d=True)
        x = resample(x.mean(axis=1, keepdims=True), sr, model.cfg.sample_rate)
        wav = torch.from_numpy(np.ascontiguousarray(x[:, 0]))[None, None]
        with torch.inference_mode():
            codes = model.encode(wav, n_q, False)[0]  # (n_q, frames)
        out.append(codes.T.numpy().astype(np.int64))
    return out


def file_list_digest(files: list[Path], root: Path) -> str:
    """sha256 over the relative paths and bytes of the training files (what the model was trained on)."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def train(data: Path, checkpoint: Path, out: Path, *, command: str = "") -> dict:
    """Count the codes of every file under ``data`` and write the context model to ``out``; returns its recipe."""
    from harness.codecs.entropy.context_model import NgramContextModel
    from harness.codecs.soundstream.checkpoint import file_sha256

    files = audio_files(data)
    if not files:
        from harness.errors import HarnessError

        raise HarnessError(f"no .wav/.flac files under {data}; make them with scripts/make_soundstream_data.py")
    t0 = time.time()
    codes = codes_of_files(files, checkpoint)
    recipe = {"command": command, "data": str(data), "files": len(files),
              "frames": int(sum(c.shape[0] for c in codes)), "data_sha256": file_list_digest(files, Path(data)),
              "encode_seconds": round(time.time() - t0, 1)}
    model = NgramContextModel.fit(codes, checkpoint_sha256=file_sha256(checkpoint), recipe=recipe)
    model.save(out)
    return recipe
