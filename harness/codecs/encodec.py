"""EnCodec (Défossez et al. 2022, arXiv 2210.13438) through the ``EncodecModel`` of Hugging Face transformers.

Two published models (weights CC-BY-NC 4.0):

* ``encodec_24khz``: 24 kHz mono, causal, 75 frames/s, 1.5/3/6/12/24 kbps = 2/4/8/16/32 codebooks of 10 bits.
* ``encodec_48khz``: 48 kHz stereo, non-causal, 150 frames/s, 3/6/12/24 kbps = 2/4/8/16 codebooks; audio is cut
  into 1 s segments overlapping by 1 % (stride 0.99 s), each normalised by its RMS ``scale``.

Payload = the packed codes (10 bits each, MSB first, time-major: all codebooks of frame 0, then frame 1, ...),
so the measured bitrate is exact (6 kbps on ``encodec_24khz`` = 8 x 10 bits x 75 Hz). For ``encodec_48khz`` each
segment is ``[scale: float32 big-endian][codes]`` - the scale is part of what a receiver needs, so it is counted;
with the 1 % overlap the measured rate is about 1.6 % above nominal (e.g. 6.09 kbps at "6").
The payload decodes on its own given the configured bitrate (no header).

Delay: 0 samples. Both models pad so that output sample ``t`` reconstructs input sample ``t`` (left padding in the
causal model, centred padding in the non-causal one); upstream ``facebookresearch/encodec`` trims the output to the
input length with no shift and scores it that way.

``random_weights=true`` builds the same architecture with seeded random weights (codebooks seeded from encoder
outputs of noise, as EnCodec training seeds them from data): same compute, meaningless quality. Settings record
``"weights": "random (seed N)"`` so no one mistakes such numbers for EnCodec's.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable
from harness.codecs.packing import pack_codes, packed_size, unpack_codes
from harness.codecs.weights import ENCODEC_HUB_IDS, find_encodec_weights, truthy, weights_availability, weights_id

CODE_BITS = 10
HOP = 320  # samples per frame at the model rate (strides 2*4*5*8)
SCALE_BYTES = 4

#: EncodecConfig keyword arguments of the two published models (their hub config.json files)
CONFIGS: dict[str, dict[str, Any]] = {
    "encodec_24khz": dict(target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0], sampling_rate=24000, audio_channels=1,
                          normalize=False, chunk_length_s=None, overlap=None, norm_type="weight_norm",
                          use_causal_conv=True),
    "encodec_48khz": dict(target_bandwidths=[3.0, 6.0, 12.0, 24.0], sampling_rate=48000, audio_channels=2,
                          normalize=True, chunk_length_s=1.0, overlap=0.01, norm_type="time_group_norm",
                          use_causal_conv=False),
}

_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _seed_codebooks(model: Any, seed: int) -> None:
    """Give an untrained model usable codebooks: entries drawn from encoder outputs of seeded noise, per RVQ stage."""
    import torch

    cfg = model.config
    gen = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.randn(1, cfg.audio_channels, cfg.sampling_rate, generator=gen)  # 1 s of noise
    with torch.inference_mode():
        frames = model.encoder(x)[0].T.contiguous()  # (T, D)
        for layer in model.quantizer.layers:
            book = layer.codebook
            pick = torch.randint(0, frames.shape[0], (book.codebook_size,), generator=gen)
            jitter = torch.randn(book.codebook_size, frames.shape[1], generator=gen)
            embed = frames[pick] + 0.05 * frames.std() * jitter
            book.embed.copy_(embed)
            book.embed_avg.copy_(embed)
            frames = frames - embed[book.quantize(frames)]


def load_model(name: str, *, weights: str | None = None, random_weights: bool = False, seed: int = 0
               ) -> tuple[Any, str, str]:
    """``(model, weights description, weights id)``; one load per process per (model, weights source)."""
    try:
        import torch
        from transformers import EncodecConfig, EncodecModel
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise CodecUnavailable(f"EnCodec needs torch and transformers: {exc}") from exc
    if random_weights:
        key = (name, f"random:{seed}")
    else:
        source, folder = find_encodec_weights(name, weights)
        key = (name, str(folder.resolve()))
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        if random_weights:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                model = EncodecModel(EncodecConfig(**CONFIGS[name]))
            _seed_codebooks(model, seed)
            entry = (model.eval(), f"random (seed {seed})", f"random seed {seed}")
        else:
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a local load needs no "Loading weights" bar in every worker
            try:
                model = EncodecModel.from_pretrained(str(folder), local_files_only=True)
            except (OSError, ValueError) as exc:
                raise CodecUnavailable(f"cannot load EnCodec weights from {folder}: {exc}") from exc
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
            want = CONFIGS[name]
            got = (model.config.sampling_rate, model.config.audio_channels)
            if got != (want["sampling_rate"], want["audio_channels"]):
                raise CodecError(f"weights in {folder} are for {got[0]} Hz / {got[1]} ch, not {name}; "
                                 f"point weights= at a {ENCODEC_HUB_IDS[name]} folder")
            entry = (model.eval(), source, weights_id(folder))
        _MODELS[key] = entry
        return entry


class _EncodecBase(Codec):
    """Shared code; subclasses set ``name`` and the class attributes."""

    requires = ("torch", "transformers")

    def __init__(self, *, kbps: float, weights: str | None = None, random_weights: Any = False, seed: int = 0,
                 **options: Any) -> None:
        super().__init__(kbps=kbps, **options)
        if options:
            raise CodecError(f"{self.name}: unknown option(s) {', '.join(sorted(options))}; "
                             "known: weights, random_weights, seed")
        self.random_weights = truthy(random_weights)
        self.seed = int(seed)
        self.model, self.weights_source, self.weights_id = load_model(
            self.name, weights=weights, random_weights=self.random_weights, seed=self.seed)
        cfg = self.model.config
        self.frame_rate = cfg.frame_rate
        self.num_codebooks = self.model.quantizer.get_num_quantizers_for_bandwidth(self.kbps)
        self.bandwidth = next(b for b in cfg.target_bandwidths if abs(b - self.kbps) < 1e-6)

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        """Without options: whether trained weights are at the default locations. With a condition's options
        (``weights=``, ``random_weights=``): whether that configuration can run."""
        return weights_availability(find_encodec_weights, cls.name, options)

    def settings(self) -> dict[str, Any]:
        return {"weights": self.weights_source, "weights_id": self.weights_id, "bandwidth_kbps": self.bandwidth,
                "num_codebooks": self.num_codebooks, "code_bits": CODE_BITS, "frame_rate_hz": self.frame_rate}

    def versions(self) -> dict[str, str]:
        import torch
        import transformers

        return {"transformers": transformers.__version__, "torch": torch.__version__,
                "weights": self.weights_id, "model": ENCODEC_HUB_IDS[self.name]}

    # --- helpers -------------------------------------------------------------------------------------------
    def _to_tensor(self, audio: np.ndarray):
        import torch

        x = np.asarray(audio, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise CodecError(f"{self.name} encodes ({self.channels}-channel) audio shaped (frames, "
                             f"{self.channels}); got {x.shape}")
        return torch.from_numpy(np.ascontiguousarray(x.T))[None]

    def _pack_frames(self, codes) -> bytes:  # codes: (nq, T) tensor
        return pack_codes(codes.T.numpy(), CODE_BITS)

    def _unpack_frames(self, chunk: bytes, n_frames: int):
        import torch

        flat = unpack_codes(chunk, CODE_BITS, n_frames * self.num_codebooks)
        return torch.from_numpy(flat.reshape(n_frames, self.num_codebooks).T.copy())


@register
class Encodec24(_EncodecBase):
    """EnCodec 24 kHz mono. Options: ``weights`` (folder), ``random_weights`` (bool), ``seed`` (0)."""

    name = "encodec_24khz"
    description = "EnCodec 24 kHz mono (Meta, 2022), transformers EncodecModel; weights CC-BY-NC 4.0"
    sample_rates = (24000,)
    channel_options = (1,)
    bitrates = BitrateSpec(points=(1.5, 3.0, 6.0, 12.0, 24.0))
    bitrate_convention = "packed codes, no header"

    def encode(self, audio: np.ndarray) -> bytes:
        import torch

        with torch.inference_mode():
            out = self.model.encode(self._to_tensor(audio), bandwidth=self.bandwidth, return_dict=True)
        return self._pack_frames(out.audio_codes[0, 0])

    def decode(self, payload: bytes) -> np.ndarray:
        import torch

        n_frames = 8 * len(payload) // (CODE_BITS * self.num_codebooks)
        if n_frames == 0 or packed_size(n_frames * self.num_codebooks, CODE_BITS) != len(payload):
            raise CodecError(f"{self.name}: a {len(payload)}-byte payload is not a whole number of "
                             f"{self.num_codebooks}-codebook frames ({self.kbps:g} kbps); truncated or wrong bitrate")
        codes = self._unpack_frames(payload, n_frames)[None, None]
        with torch.inference_mode():
            y = self.model.decode(codes, [None], return_dict=True).audio_values
        return y[0].T.numpy().astype(np.float32)


@register
class Encodec48(_EncodecBase):
    """EnCodec 48 kHz stereo (1 s segments with per-segment scale). Options as for ``encodec_24khz``."""

    name = "encodec_48khz"
    description = "EnCodec 48 kHz stereo (Meta, 2022), transformers EncodecModel; weights CC-BY-NC 4.0"
    sample_rates = (48000,)
    channel_options = (2,)
    bitrates = BitrateSpec(points=(3.0, 6.0, 12.0, 24.0))
    bitrate_convention = "packed codes + a 4-byte scale per 1 s segment, no header"

    def settings(self) -> dict[str, Any]:
        cfg = self.model.config
        return {**super().settings(), "segment_s": cfg.chunk_length_s, "overlap": cfg.overlap,
                "scale_bits_per_segment": 8 * SCALE_BYTES}

    @property
    def _segment_bytes(self) -> int:
        frames = self.model.config.chunk_length // HOP
        return SCALE_BYTES + packed_size(frames * self.num_codebooks, CODE_BITS)

    def encode(self, audio: np.ndarray) -> bytes:
        import torch

        with torch.inference_mode():
            out = self.model.encode(self._to_tensor(audio), bandwidth=self.bandwidth, return_dict=True)
        codes, scales, pad = out.audio_codes, out.audio_scales, int(out.last_frame_pad_length or 0)
        parts = []
        for i in range(codes.shape[0]):
            seg = codes[i, 0]
            if i == codes.shape[0] - 1 and pad:
                seg = seg[:, : seg.shape[1] - pad]
            parts.append(struct.pack(">f", float(scales[i].reshape(-1)[0])))
            parts.append(self._pack_frames(seg))
        return b"".join(parts)

    def decode(self, payload: bytes) -> np.ndarray:
        import torch

        full_frames = self.model.config.chunk_length // HOP
        seg_bytes = self._segment_bytes
        segs, scales, pos = [], [], 0
        while pos < len(payload):
            size = min(seg_bytes, len(payload) - pos)
            n_frames = 8 * (size - SCALE_BYTES) // (CODE_BITS * self.num_codebooks)
            if n_frames <= 0 or SCALE_BYTES + packed_size(n_frames * self.num_codebooks, CODE_BITS) != size:
                raise CodecError(f"{self.name}: payload of {len(payload)} bytes does not split into "
                                 f"{seg_bytes}-byte segments ({self.kbps:g} kbps); truncated or wrong bitrate")
            scales.append(torch.tensor([[struct.unpack(">f", payload[pos:pos + SCALE_BYTES])[0]]]))
            segs.append(self._unpack_frames(payload[pos + SCALE_BYTES:pos + size], n_frames))
            pos += size
        pad = full_frames - segs[-1].shape[1]
        if pad:
            segs[-1] = torch.nn.functional.pad(segs[-1], (0, pad))
        codes = torch.stack(segs)[:, None]  # (segments, batch 1, nq, frames)
        with torch.inference_mode():
            y = self.model.decode(codes, scales, last_frame_pad_length=pad, return_dict=True).audio_values
        return y[0].T.numpy().astype(np.float32)
