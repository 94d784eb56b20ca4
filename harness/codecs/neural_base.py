"""Shared adapter code for residual-VQ neural codecs run through Hugging Face transformers (DAC, Mimi).

The payload is the codes, ``code_bits`` each (log2 of the codebook size), packed MSB-first, time-major (all
codebooks of frame 0, then frame 1, ...) with :func:`harness.codecs.packing.pack_codes` and no header, so the measured
bitrate is ``codebooks x code_bits x frame rate`` up to the last byte's padding
(``bitrate_convention = "packed codes, no header"``). A payload decodes on its own given the configured bitrate.

``random_weights=true`` builds the published architecture with seeded random weights: same compute, meaningless
audio; the manifest records ``"weights": "random (seed N)"``.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Mapping

import numpy as np

from harness.codecs.base import Codec, CodecError, CodecUnavailable
from harness.codecs.weights import truthy  # noqa: F401 - re-exported
from harness.codecs.hub_models import HUB_MODELS, CodebookBitrates, find_weights
from harness.codecs.packing import pack_codes, packed_size, unpack_codes

BITRATE_CONVENTION = "packed codes, no header"
_MODELS: dict[tuple[str, str], tuple[Any, str, str]] = {}
_LOCK = threading.Lock()


class HubRVQCodec(Codec):
    """A transformers RVQ codec at ``kbps`` = codebooks x ``code_bits`` x frame rate."""

    requires = ("torch", "transformers")

    code_bits: ClassVar[int]
    hop: ClassVar[int]  # samples per frame at the model rate
    bitrates: ClassVar[CodebookBitrates]
    bitrate_convention = BITRATE_CONVENTION

    def __init__(self, *, kbps: float, weights: str | None = None, random_weights: Any = False, seed: int = 0,
                 **options: Any) -> None:
        super().__init__(kbps=kbps)
        if options:
            raise CodecError(f"{self.name}: unknown option(s) {', '.join(sorted(options))}; "
                             "known: weights, random_weights, seed")
        self.random_weights = truthy(random_weights)
        self.seed = int(seed)
        self.num_codebooks = self.bitrates.codebooks(self.kbps)
        self.model, self.weights_source, self.weights_id = self._load(weights)
        self.options = {"weights": weights, "random_weights": self.random_weights, "seed": self.seed}

    # --- subclasses --------------------------------------------------------------------------------------
    @classmethod
    def build_random(cls, seed: int) -> Any:
        raise NotImplementedError

    @classmethod
    def load_pretrained(cls, folder) -> Any:
        raise NotImplementedError

    def encode_codes(self, wav) -> Any:
        """(1, 1, samples) float tensor -> (codebooks, frames) integer tensor."""
        raise NotImplementedError

    def decode_codes(self, codes) -> np.ndarray:
        """(codebooks, frames) integer tensor -> float32 samples (1-D)."""
        raise NotImplementedError

    # --- loading -----------------------------------------------------------------------------------------
    def _load(self, weights: str | None) -> tuple[Any, str, str]:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise CodecUnavailable(f"{self.name} needs torch and transformers: {exc}") from exc
        if self.random_weights:
            key = (self.name, f"random:{self.seed}")
        else:
            source, folder = find_weights(self.name, weights)
            key = (self.name, str(folder.resolve()))
        with _LOCK:
            if key not in _MODELS:
                if self.random_weights:
                    with torch.random.fork_rng():
                        torch.manual_seed(self.seed)
                        model = type(self).build_random(self.seed)
                    _MODELS[key] = (model.eval(), f"random (seed {self.seed})", f"random seed {self.seed}")
                else:
                    from harness.codecs.weights import weights_id

                    _MODELS[key] = (type(self).load_pretrained(folder).eval(), source, weights_id(folder))
            return _MODELS[key]

    @classmethod
    def cache_identity(cls, *, kbps: float, options: Mapping[str, Any]) -> dict[str, Any] | None:
        """Model, weights identity, bitrate and library versions, without importing torch or loading the model."""
        from importlib import metadata

        try:
            versions = {k: metadata.version(k) for k in ("torch", "transformers")}
            if truthy(options.get("random_weights", False)):
                weights = f"random seed {int(options.get('seed', 0))}"
            else:
                from harness.codecs.weights import weights_id

                weights = weights_id(find_weights(cls.name, options.get("weights"))[1])
        except (metadata.PackageNotFoundError, CodecUnavailable):
            return None  # building the codec reports what is missing
        return {"codec": cls.name, "kbps": float(kbps), "num_codebooks": cls.bitrates.codebooks(float(kbps)),
                "code_bits": cls.code_bits, "weights": weights, "versions": versions}

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        from harness.codecs.weights import weights_availability

        return weights_availability(find_weights, cls.name, options)

    def settings(self) -> dict[str, Any]:
        return {"weights": self.weights_source, "weights_id": self.weights_id, "num_codebooks": self.num_codebooks,
                "code_bits": self.code_bits, "frame_rate_hz": self.sample_rate / self.hop}

    def versions(self) -> dict[str, str]:
        import torch
        import transformers

        return {"transformers": transformers.__version__, "torch": torch.__version__, "weights": self.weights_id,
                "model": HUB_MODELS[self.name].hub_id}

    # --- the work ----------------------------------------------------------------------------------------
    def encode(self, audio: np.ndarray) -> bytes:
        import torch

        if audio.ndim != 2 or audio.shape[1] != 1:
            raise CodecError(f"{self.name} codes mono (frames, 1) audio, got shape {audio.shape}")
        wav = torch.from_numpy(np.ascontiguousarray(audio[:, 0], dtype=np.float32))[None, None]
        with torch.inference_mode():
            codes = self.encode_codes(wav)
        return pack_codes(codes.T.numpy(), self.code_bits)

    def decode(self, payload: bytes) -> np.ndarray:
        import torch

        n = self.num_codebooks
        frames = 8 * len(payload) // (self.code_bits * n)
        if frames == 0 or packed_size(frames * n, self.code_bits) != len(payload):
            raise CodecError(f"{self.name}: a {len(payload)}-byte payload is not a whole number of {n}-codebook "
                             f"frames ({self.kbps:g} kbps); truncated, or coded at another bitrate")
        flat = unpack_codes(payload, self.code_bits, frames * n)
        codes = torch.from_numpy(flat.reshape(frames, n).T.copy())
        with torch.inference_mode():
            y = self.decode_codes(codes)
        return np.asarray(y, dtype=np.float32)[:, None]


def make_bitrates(*, code_bits: int, frame_rate: float, max_codebooks: int, published: tuple[int, ...]
                  ) -> CodebookBitrates:
    step = code_bits * frame_rate / 1000.0
    return CodebookBitrates(points=tuple(round(n * step, 6) for n in published), kbps_per_codebook=step,
                            max_codebooks=max_codebooks)
