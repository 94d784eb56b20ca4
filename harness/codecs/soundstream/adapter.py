"""The ``soundstream`` codec adapter: our SoundStream model behind the harness :class:`Codec` interface.

24 kHz mono. A bitrate is a number of quantizers: kbps = n_q x 10 bits x 75 frames/s / 1000 = 0.75 x n_q, for
n_q in 1..24 (0.75-18 kbps; the paper's points are 1.5-18 kbps, n_q = 2..24). The payload is the codes, frame
after frame, n_q 10-bit codebook indices per frame, packed MSB first with
:func:`harness.codecs.packing.pack_codes`, behind a 7-byte header (:func:`harness.codecs.packing.pack_header`:
tag, format version, n_q, length in samples), so a payload decoded at the wrong bitrate or truncated is an error.
The measured bitrate is the nominal one plus the header (56 bits per payload: +0.056 kbps on 1 s) and the
zero-padding of the last frame and byte. Output is time-aligned with the input (``delay_samples`` = 0): the
model is causal with one frame (320 samples, 13.3 ms) of algorithmic latency, all of it buffering inside a frame.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable
from harness.codecs.packing import (PAYLOAD_TAGS, check_body_size, pack_codes, pack_header, packed_size,
                                    read_header, unpack_codes)

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "soundstream_small.pt"
KBPS_PER_QUANTIZER = 0.75
MAX_QUANTIZERS = 24
PAYLOAD_VERSION = 1  # header + frame-major 10-bit codes

class QuantizerBitrates(BitrateSpec):
    """The paper's points 1.5, 3, ..., 18 kbps (n_q = 2, 4, ..., 24), and any other whole number of quantizers
    (0.75 x n_q kbps, n_q = 1..24) on request."""

    def supports(self, kbps: float) -> bool:
        n = kbps / KBPS_PER_QUANTIZER
        return abs(n - round(n)) < 1e-6 and 1 <= round(n) <= MAX_QUANTIZERS

    def describe(self) -> str:
        return super().describe() + f" (or any multiple of {KBPS_PER_QUANTIZER:g} kbps up to {self.points[-1]:g})"


_CACHE: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}
_LOCK = threading.Lock()


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """The generator in ``path``, loaded once per process (keyed by path and modification time)."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise CodecUnavailable(
            f"SoundStream checkpoint {p} not found. Pass checkpoint=PATH (a file from `mushra soundstream "
            "export`), or reinstall mushra-harness to restore the shipped one."
        )
    key = (str(p), p.stat().st_mtime_ns)
    with _LOCK:
        if key not in _CACHE:
            from harness.codecs.soundstream.checkpoint import file_sha256, load_generator

            model, meta = load_generator(p)
            meta["sha256"] = file_sha256(p)
            _CACHE[key] = (model, meta)
        return _CACHE[key]


@register
class SoundStreamCodec(Codec):
    name = "soundstream"
    description = "our SoundStream (arXiv 2107.03312), small model trained in this project; 24 kHz mono"
    sample_rates = (24000,)
    requires = ("torch",)
    channel_options = (1,)
    bitrates = QuantizerBitrates(points=tuple(KBPS_PER_QUANTIZER * n for n in range(2, MAX_QUANTIZERS + 1, 2)))

    def __init__(self, *, kbps: float, checkpoint: str | Path | None = None, denoise: bool = False,
                 streaming: bool = False, **options: Any) -> None:
        if options:
            raise CodecError(f"soundstream: unknown option(s) {', '.join(sorted(options))}; "
                             "it takes checkpoint=PATH, denoise=true/false and streaming=true/false")
        if not isinstance(streaming, bool):
            raise CodecError(f"soundstream: streaming must be true or false, got {streaming!r}")
        self.streaming = streaming
        super().__init__(kbps=kbps)
        self.n_q = int(round(self.kbps / KBPS_PER_QUANTIZER))
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else SHIPPED_CHECKPOINT
        if not isinstance(denoise, bool):
            raise CodecError(f"soundstream: denoise must be true or false, got {denoise!r}")
        self.denoise = denoise
        self.model, self.meta = load_model(self.checkpoint)
        cfg = self.model.cfg
        if self.n_q > cfg.n_q:
            raise CodecError(f"soundstream: the checkpoint has {cfg.n_q} quantizers ({cfg.kbps(cfg.n_q):g} kbps "
                             f"max); {self.kbps:g} kbps needs {self.n_q}")
        if denoise and not cfg.film:
            raise CodecError("soundstream: denoise=true needs a checkpoint trained with --denoise (FiLM); "
                             "this one has no FiLM conditioning")
        self.bits = cfg.bits_per_code
        self.options = {"checkpoint": str(checkpoint) if checkpoint else "shipped", "denoise": denoise}
        if streaming:  # recorded only when on, so offline conditions keep their settings (and cache keys)
            self.options.update(streaming=True, algorithmic_latency_samples=cfg.hop,
                                algorithmic_latency_ms=round(1000.0 * cfg.hop / cfg.sample_rate, 3))

    @classmethod
    def cache_identity(cls, *, kbps: float, options: Mapping[str, Any]) -> dict[str, Any] | None:
        """The checkpoint's hash and the settings, without importing torch or loading the model."""
        from importlib import metadata

        from harness.files import file_sha256

        checkpoint = options.get("checkpoint")
        path = Path(checkpoint).expanduser() if checkpoint else SHIPPED_CHECKPOINT
        if not path.is_file():
            return None  # building the codec reports the missing file
        try:
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            return None
        settings = {"checkpoint": str(checkpoint) if checkpoint else "shipped", "denoise": options.get("denoise", False),
                    "n_q": int(round(float(kbps) / KBPS_PER_QUANTIZER))}
        if options.get("streaming"):  # as in __init__: only when on, so offline keys stay as they were
            settings["streaming"] = True
        return {"codec": cls.name, "kbps": float(kbps), "settings": settings,
                "versions": {"torch": torch_version, "checkpoint_sha256": file_sha256(path)}}

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # found without importing it (seconds saved per run)
            return False, "PyTorch is not installed (pip install 'mushra-harness[neural]')"
        checkpoint = options.get("checkpoint")
        if checkpoint is not None:
            from pathlib import Path

            if not Path(checkpoint).is_file():
                return False, f"checkpoint not found at {checkpoint}; pass checkpoint=PATH to a trained model"
            return True, "ok"
        if not SHIPPED_CHECKPOINT.is_file():
            return False, f"shipped checkpoint missing ({SHIPPED_CHECKPOINT}); pass checkpoint=PATH"
        return True, "ok"

    @property
    def delay_samples(self) -> int:
        return 0

    def settings(self) -> dict[str, Any]:
        return {**self.options, "n_q": self.n_q, "frame_samples": self.model.cfg.hop}

    def versions(self) -> dict[str, str]:
        import torch

        return {"torch": torch.__version__, "checkpoint_sha256": self.meta["sha256"],
                "checkpoint_step": str(self.meta["step"])}

    def encode(self, audio: np.ndarray) -> bytes:
        import torch

        if audio.ndim != 2 or audio.shape[1] != 1:
            raise CodecError(f"soundstream codes mono (frames, 1) audio, got shape {audio.shape}")
        if self.streaming:  # frame by frame, 320 samples in -> n_q codes out (equal to offline to ~1e-5)
            codes = self._stream().process(audio[:, 0])[0][None]
        else:
            wav = torch.from_numpy(np.ascontiguousarray(audio[:, 0], dtype=np.float32))[None, None]
            with torch.inference_mode():
                codes = self.model.encode(wav, self.n_q, self.denoise).numpy()  # (1, n_q, frames)
        head = pack_header(tag=PAYLOAD_TAGS["soundstream"], version=PAYLOAD_VERSION, n_q=self.n_q,
                           length=audio.shape[0])
        return head + pack_codes(codes[0].T, self.bits)  # frame-major: all codes of frame 0 first

    def decode(self, payload: bytes) -> np.ndarray:
        import torch

        head, body = read_header(payload, codec="soundstream", tag=PAYLOAD_TAGS["soundstream"],
                                 version=PAYLOAD_VERSION, n_q=self.n_q,
                                 describe=lambda n: f"{KBPS_PER_QUANTIZER * n:g} kbps (n_q = {n})")
        hop = self.model.cfg.hop
        frames = -(-head.length // hop)
        check_body_size(body, codec="soundstream", need=packed_size(frames * self.n_q, self.bits))
        if frames == 0:
            return np.zeros((0, 1), np.float32)
        codes = unpack_codes(body, self.bits, frames * self.n_q).reshape(frames, self.n_q)
        if self.streaming:
            stream = self._stream()
            y = np.concatenate([stream.decode_frame(c) for c in codes])
            return y[: head.length].astype(np.float32)[:, None]
        with torch.inference_mode():
            y = self.model.decode(torch.from_numpy(codes.T.copy())[None], self.denoise)
        return y[0, 0, : head.length].numpy().astype(np.float32)[:, None]

    def _stream(self):
        """A fresh frame-by-frame coder (NumPy engine) for one signal; its state is per call, so calls from
        several threads do not share it."""
        from harness.codecs.soundstream.streaming import StreamingCodec

        return StreamingCodec(self.model, n_q=self.n_q, denoise=self.denoise)
