"""``soundstream_ec``: our SoundStream with its codes entropy-coded (range coder + n-gram context model).

The same model, the same codes and so the same decoded audio as ``soundstream`` at the same nominal bitrate (its
code-level API: ``model.encode(wav, n_q)`` / ``model.decode(codes)``), but the payload is the codes range-coded
with :mod:`harness.codecs.entropy` instead of packed at 10 bits each, so the measured bitrate is what the codes
really cost: below the nominal ``0.75 x n_q`` kbps by the context model's saving (EnCodec, arXiv 2210.13438, does
the same with a small transformer and reports 25-40 %).

Payload: the 7-byte header of :func:`harness.codecs.packing.pack_header` (tag ``soundstream_ec``, format version,
n_q, length in samples), the first 4 bytes of the context model's id (so a payload is never decoded with another
model), the CRC-32 of the codes (a range decoder reads a truncated or damaged body without complaint, so the
checksum is what turns that into an error), then the range coder's 32-bit words. All of it is counted in the
measured bitrate (15 bytes a payload: 0.012 kbps on a 10 s excerpt).

The context model is trained on the codes of one checkpoint; the adapter checks the checkpoint's sha256 against
the one recorded in the model file and refuses a mismatch with the command that retrains it.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from harness.codecs import register
from harness.codecs.base import Codec, CodecError, CodecUnavailable
from harness.codecs.entropy.coder import decode_codes, encode_codes
from harness.codecs.entropy.context_model import NgramContextModel
from harness.codecs.packing import PAYLOAD_TAGS, pack_header, read_header
from harness.codecs.soundstream.adapter import (KBPS_PER_QUANTIZER, MAX_QUANTIZERS, SHIPPED_CHECKPOINT,
                                                QuantizerBitrates, load_model)

SHIPPED_CONTEXT_MODEL = Path(__file__).resolve().parent / "entropy" / "models" / "soundstream_small.ctx.npz"
PAYLOAD_VERSION = 1
MODEL_ID_BYTES = 4
CRC_BYTES = 4
BITRATE_CONVENTION = "entropy-coded codes + 7-byte header + 4-byte model id + 4-byte CRC-32, all counted"


@functools.lru_cache(maxsize=4)
def _context_model(path: str, mtime_ns: int) -> NgramContextModel:
    return NgramContextModel.load(path)


def load_context_model(path: Path) -> NgramContextModel:
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        return NgramContextModel.load(p)  # raises the "not found, train it with ..." error
    return _context_model(str(p), p.stat().st_mtime_ns)


@register
class SoundStreamEC(Codec):
    name = "soundstream_ec"
    description = "our SoundStream with range-coded codes (n-gram context model, constriction); 24 kHz mono"
    sample_rates = (24000,)
    requires = ("torch", "constriction")
    channel_options = (1,)
    bitrate_convention = BITRATE_CONVENTION
    bitrates = QuantizerBitrates(points=tuple(KBPS_PER_QUANTIZER * n for n in range(2, MAX_QUANTIZERS + 1, 2)))

    def __init__(self, *, kbps: float, checkpoint: str | Path | None = None,
                 context_model: str | Path | None = None, **options: Any) -> None:
        if options:
            raise CodecError(f"soundstream_ec: unknown option(s) {', '.join(sorted(options))}; "
                             "it takes checkpoint=PATH and context_model=PATH")
        super().__init__(kbps=kbps)
        self.n_q = int(round(self.kbps / KBPS_PER_QUANTIZER))
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else SHIPPED_CHECKPOINT
        self.context_path = Path(context_model).expanduser() if context_model else SHIPPED_CONTEXT_MODEL
        self.model, self.meta = load_model(self.checkpoint)
        self.ctx = load_context_model(self.context_path)
        self.ctx.check_checkpoint(self.meta["sha256"], model_path=self.context_path, checkpoint_path=self.checkpoint)
        if self.n_q > min(self.model.cfg.n_q, self.ctx.levels):
            raise CodecError(f"soundstream_ec: {self.kbps:g} kbps needs {self.n_q} quantizers; the checkpoint has "
                             f"{self.model.cfg.n_q} and the context model {self.ctx.levels}")
        self.model_id = bytes.fromhex(self.ctx.model_id)[:MODEL_ID_BYTES]
        self.options = {"checkpoint": str(checkpoint) if checkpoint else "shipped",
                        "context_model": str(context_model) if context_model else "shipped"}

    @classmethod
    def cache_identity(cls, *, kbps: float, options: Mapping[str, Any]) -> dict[str, Any] | None:
        """Checkpoint and context-model hashes and the settings, without importing torch or loading anything."""
        from importlib import metadata

        from harness.files import file_sha256

        ckpt = Path(options.get("checkpoint") or SHIPPED_CHECKPOINT).expanduser()
        ctx = Path(options.get("context_model") or SHIPPED_CONTEXT_MODEL).expanduser()
        if not ckpt.is_file() or not ctx.is_file():
            return None  # building the codec reports what is missing
        try:
            versions = {k: metadata.version(k) for k in ("torch", "constriction")}
        except metadata.PackageNotFoundError:
            return None
        settings = {"checkpoint": str(options.get("checkpoint") or "shipped"),
                    "context_model": str(options.get("context_model") or "shipped"),
                    "n_q": int(round(float(kbps) / KBPS_PER_QUANTIZER)), "payload_version": PAYLOAD_VERSION}
        return {"codec": cls.name, "kbps": float(kbps), "settings": settings,
                "versions": {**versions, "checkpoint_sha256": file_sha256(ckpt),
                             "context_model_file": file_sha256(ctx)}}

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        try:
            import constriction  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            return False, f"{exc.name} is not installed (pip install constriction torch==2.13.0)"
        from harness.codecs.soundstream.checkpoint import file_sha256

        ckpt = Path(options.get("checkpoint") or SHIPPED_CHECKPOINT).expanduser()
        ctx_path = Path(options.get("context_model") or SHIPPED_CONTEXT_MODEL).expanduser()
        if not ckpt.is_file():
            return False, f"checkpoint not found at {ckpt}; pass checkpoint=PATH to a trained model"
        try:
            ctx = load_context_model(ctx_path)
            ctx.check_checkpoint(file_sha256(ckpt), model_path=ctx_path, checkpoint_path=ckpt)
        except CodecUnavailable as exc:
            return False, str(exc)
        return True, "ok"

    def settings(self) -> dict[str, Any]:
        return {**self.options, "n_q": self.n_q, "nominal_kbps": self.kbps, "context_model_id": self.ctx.model_id[:16]}

    def versions(self) -> dict[str, str]:
        import constriction
        import torch

        return {"torch": torch.__version__, "constriction": getattr(constriction, "__version__", "unknown"),
                "checkpoint_sha256": self.meta["sha256"], "context_model_sha256": self.ctx.model_id}

    # --- codes <-> bytes (usable without audio, e.g. to measure the saving) ---------------------------------
    def pack(self, codes: np.ndarray, length: int) -> bytes:
        """Payload for ``codes`` ``(frames, n_q)`` of a signal of ``length`` samples."""
        head = pack_header(tag=PAYLOAD_TAGS["soundstream_ec"], version=PAYLOAD_VERSION, n_q=self.n_q, length=length)
        crc = zlib.crc32(np.ascontiguousarray(codes, dtype="<u2").tobytes()).to_bytes(CRC_BYTES, "big")
        return head + self.model_id + crc + encode_codes(codes, self.ctx)

    def unpack(self, payload: bytes) -> tuple[np.ndarray, int]:
        """``(codes (frames, n_q), length in samples)`` from a payload; errors name what is wrong."""
        head, body = read_header(payload, codec=self.name, tag=PAYLOAD_TAGS["soundstream_ec"],
                                 version=PAYLOAD_VERSION, n_q=self.n_q,
                                 describe=lambda n: f"{n * KBPS_PER_QUANTIZER:g} kbps ({n} quantizers)")
        if body[:MODEL_ID_BYTES] != self.model_id:
            raise CodecError(f"{self.name}: the payload was coded with another context model (id "
                             f"{body[:MODEL_ID_BYTES].hex()}, this one is {self.model_id.hex()}); decode it with "
                             "context_model= pointing at the model that coded it")
        hop = self.model.cfg.hop
        frames = -(-head.length // hop)
        crc, words = body[MODEL_ID_BYTES:MODEL_ID_BYTES + CRC_BYTES], body[MODEL_ID_BYTES + CRC_BYTES:]
        codes = decode_codes(words, self.ctx, frames=frames, n_q=self.n_q)
        if zlib.crc32(np.ascontiguousarray(codes, dtype="<u2").tobytes()).to_bytes(CRC_BYTES, "big") != crc:
            raise CodecError(f"{self.name}: the decoded codes fail the payload's CRC-32; the payload is truncated "
                             "or corrupt")
        return codes, head.length

    def encode(self, audio: np.ndarray) -> bytes:
        import torch

        if audio.ndim != 2 or audio.shape[1] != 1:
            raise CodecError(f"soundstream_ec codes mono (frames, 1) audio, got shape {audio.shape}")
        wav = torch.from_numpy(np.ascontiguousarray(audio[:, 0], dtype=np.float32))[None, None]
        with torch.inference_mode():
            codes = self.model.encode(wav, self.n_q, False)[0].T.numpy()  # (frames, n_q)
        return self.pack(codes, audio.shape[0])

    def decode(self, payload: bytes) -> np.ndarray:
        import torch

        codes, length = self.unpack(payload)
        with torch.inference_mode():
            y = self.model.decode(torch.from_numpy(codes.T.copy())[None], False)
        return y[0, 0].numpy().astype(np.float32)[:length, None]
