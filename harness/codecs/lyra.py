"""Lyra v2 (google/lyra 1.3.2, Apache-2.0) running its own TFLite models through ``ai-edge-litert``.

Lyra v2 is a SoundStream-style codec: 16 kHz mono, one 20 ms hop (320 samples) per packet, a residual vector
quantizer with 4-bit indices. Operating points (lyra/lyra_config.cc): 3200/6000/9200 bps = 16/30/46 quantizers
= 8/15/23-byte packets every 20 ms. The payload is the concatenation of the packets exactly as the C++ encoder
writes them: no header, indices packed MSB-first with the first quantizer in the most significant bits.

The encoder and the decoder (``lyragan``) are stateful streaming models: hops are fed in order and every
:meth:`Lyra.encode` / :meth:`Lyra.decode` call (one file) starts from the models' initial state. Model files are
read and checked once per process and folder; interpreters use one thread (``num_threads`` option to change).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable
from harness.codecs.packing import pack_codes, unpack_codes
from harness.codecs.weights import LYRA_COMMIT, find_lyra_dir

SAMPLE_RATE = 16000
HOP = 320  # samples per packet (20 ms)
BITS_PER_QUANTIZER = 4
MAX_QUANTIZERS = 46
#: kbps -> quantizers (lyra_config.cc: kSupportedBitrates 3200, 6000, 9200)
QUANTIZERS = {3.2: 16, 6.0: 30, 9.2: 46}


class _Models:
    """The three interpreters for one model folder (created once per process).

    The encoder and ``lyragan`` keep streaming state in TFLite resource variables that
    ``Interpreter.reset_all_variables()`` does *not* restore to their initial values (measured: a stream after
    the reset codes differently from a fresh interpreter), so - like the C++ ``LyraEncoder::Create`` per stream -
    a used interpreter is re-created from the model bytes held in memory (about 8 ms for both) before the next
    file. The stateless quantizer is created once.
    """

    def __init__(self, folder: Path, num_threads: int) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise CodecUnavailable("ai-edge-litert is not installed: `pip install ai-edge-litert`") from exc
        self._interpreter = Interpreter
        self.folder = folder
        self.num_threads = num_threads
        self.lock = threading.Lock()
        self._bytes = {n: (folder / n).read_bytes() for n in ("soundstream_encoder.tflite", "lyragan.tflite")}
        self.quantizer = self._make("quantizer.tflite", (folder / "quantizer.tflite").read_bytes())
        self.q_encode = self.quantizer.get_signature_runner("encode")
        self.q_decode = self.quantizer.get_signature_runner("decode")
        self._encoder = self._decoder = None

    def _make(self, name: str, content: bytes):
        from harness.progress import native_stderr_filtered

        try:
            with native_stderr_filtered():  # TFLite's "INFO: Created ... XNNPACK delegate" would break the bars
                itp = self._interpreter(model_content=content, num_threads=self.num_threads)
                itp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise CodecUnavailable(f"cannot load the Lyra model {self.folder / name}: {exc}") from exc
        return itp

    def fresh_encoder(self):
        """A soundstream encoder in its initial state: ``(interpreter, input index, output index)``."""
        itp = self._make("soundstream_encoder.tflite", self._bytes["soundstream_encoder.tflite"])
        return itp, itp.get_input_details()[0]["index"], itp.get_output_details()[0]["index"]

    def fresh_decoder(self):
        """A lyragan decoder in its initial state: ``(interpreter, input index, output index)``."""
        itp = self._make("lyragan.tflite", self._bytes["lyragan.tflite"])
        return itp, itp.get_input_details()[0]["index"], itp.get_output_details()[0]["index"]


_MODELS: dict[tuple[str, int], _Models] = {}
_MODELS_LOCK = threading.Lock()


def _models(folder: Path, num_threads: int) -> _Models:
    key = (str(folder.resolve()), num_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _Models(folder, num_threads)
        return _MODELS[key]


@register
class Lyra(Codec):
    """Lyra v2 at 3.2, 6 or 9.2 kbps. Options: ``model_dir`` (folder with the model files), ``num_threads`` (1)."""

    name = "lyra"
    description = "Lyra v2 (google/lyra 1.3.2) SoundStream-based speech codec, TFLite models"
    sample_rates = (SAMPLE_RATE,)
    requires = ("ai_edge_litert",)
    channel_options = (1,)
    bitrates = BitrateSpec(points=(3.2, 6.0, 9.2))
    bitrate_convention = "Lyra packets as the C++ encoder writes them, no header"

    def __init__(self, *, kbps: float, model_dir: str | None = None, num_threads: int = 1, **options: Any) -> None:
        super().__init__(kbps=kbps, **options)
        if options:
            raise CodecError(f"lyra: unknown option(s) {', '.join(sorted(options))}; known: model_dir, num_threads")
        self.num_quantizers = next(q for k, q in QUANTIZERS.items() if abs(k - self.kbps) < 1e-6)
        self.packet_bytes = self.num_quantizers * BITS_PER_QUANTIZER // 8
        self.num_threads = int(num_threads)
        self.model_dir = find_lyra_dir(model_dir)
        self._m = _models(self.model_dir, self.num_threads)

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        """Whether the model files are found (at ``model_dir=`` if given, else the default locations) and intact."""
        try:
            folder = find_lyra_dir(options.get("model_dir"))
        except CodecUnavailable as exc:
            return False, str(exc)
        return True, f"models in {folder}"

    def settings(self) -> dict[str, Any]:
        return {"num_quantizers": self.num_quantizers, "packet_bytes": self.packet_bytes, "hop_samples": HOP,
                "num_threads": self.num_threads}

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"lyra": f"google/lyra@{LYRA_COMMIT[:12]} (1.3.2)", "ai-edge-litert": version("ai-edge-litert")}

    def reset(self) -> None:
        """Nothing to do: every :meth:`encode` / :meth:`decode` call starts from the models' initial state."""

    def encode(self, audio: np.ndarray) -> bytes:
        """16 kHz mono float audio -> concatenated packets (``packet_bytes`` per 20 ms, last hop zero-padded)."""
        x = np.asarray(audio, dtype=np.float32).reshape(audio.shape[0], -1)[:, 0]
        n_hops = -(-x.shape[0] // HOP)
        # Lyra's C++ front end takes int16 PCM and feeds int16/32768 to the encoder model.
        pcm = np.round(np.clip(x, -1.0, 32767 / 32768) * 32768.0) / 32768.0
        pcm = np.pad(pcm, (0, n_hops * HOP - x.shape[0])).astype(np.float32)
        m = self._m
        nq = np.int32(self.num_quantizers)
        packets = []
        encoder, enc_in, enc_out = m.fresh_encoder()
        with m.lock:  # the quantizer is shared
            for i in range(n_hops):
                encoder.set_tensor(enc_in, pcm[None, i * HOP:(i + 1) * HOP])
                encoder.invoke()
                feats = encoder.get_tensor(enc_out)
                idx = m.q_encode(input_frames=feats, num_quantizers=nq)["output_0"].reshape(-1)
                packets.append(pack_codes(idx[: self.num_quantizers], BITS_PER_QUANTIZER))
        return b"".join(packets)

    def decode(self, payload: bytes) -> np.ndarray:
        """Concatenated packets -> 16 kHz mono float32 ``(frames, 1)``, 320 samples per packet."""
        if len(payload) % self.packet_bytes:
            raise CodecError(
                f"lyra payload of {len(payload)} bytes is not a whole number of {self.packet_bytes}-byte packets "
                f"({self.kbps:g} kbps); it is truncated or was coded at another bitrate"
            )
        n = len(payload) // self.packet_bytes
        m = self._m
        out = np.zeros(n * HOP, dtype=np.float32)
        full = np.full((MAX_QUANTIZERS, 1, 1), -1, dtype=np.int32)  # unused quantizers are -1, as in the C++
        decoder, dec_in, dec_out = m.fresh_decoder()
        with m.lock:
            for i in range(n):
                pkt = payload[i * self.packet_bytes:(i + 1) * self.packet_bytes]
                full[: self.num_quantizers, 0, 0] = unpack_codes(pkt, BITS_PER_QUANTIZER, self.num_quantizers)
                feats = m.q_decode(encoding_indices=full)["output_0"]
                decoder.set_tensor(dec_in, np.ascontiguousarray(feats, dtype=np.float32))
                decoder.invoke()
                out[i * HOP:(i + 1) * HOP] = decoder.get_tensor(dec_out).reshape(-1)
        # the C++ decoder converts to int16 with clipping
        out = np.round(np.clip(out * 32768.0, -32768, 32767)) / 32768.0
        return out.astype(np.float32)[:, None]
