"""Mimi (Kyutai, Défossez et al. 2024, the Moshi paper, arXiv 2410.00037) through the ``MimiModel`` of transformers.

24 kHz mono, causal, 12.5 frames/s (hop 1920 samples = 80 ms), split RVQ of up to 32 codebooks of 2048 entries
(11 bits): the first codebook is the "semantic" one (distilled from WavLM), the rest acoustic. Bitrate =
codebooks x 11 bits x 12.5 Hz = 0.1375 kbps per codebook: Moshi uses 8 (1.1 kbps); up to 32 (4.4 kbps).
Weights (``kyutai/mimi``) are CC-BY 4.0.

Delay 0: the causal convolutions pad on the left, so offline output sample ``t`` reconstructs input sample ``t``
(as for the causal EnCodec model); the input is zero-padded to a whole frame. With random weights the output is
unrelated to the input and no lag can be measured.

Random weights: Mimi's codebooks are EMA buffers that start at zero, which would make every code 0; as for EnCodec
they are seeded from the encoder's outputs on seeded noise (per RVQ stage) so the codes carry information.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.neural_base import HubRVQCodec, make_bitrates

HOP = 1920
CODE_BITS = 11
MAX_CODEBOOKS = 32


def _seed_codebooks(model: Any, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.randn(1, 1, 2 * model.config.sampling_rate, generator=gen)  # 2 s of noise = 25 frames
    with torch.inference_mode():
        latents = model.encoder(x).latents
        q = model.quantizer
        for rvq in (q.semantic_residual_vector_quantizer, q.acoustic_residual_vector_quantizer):
            z = rvq.input_proj(latents) if rvq.input_proj is not None else latents
            frames = z[0].T.contiguous()  # (T, D)
            for layer in rvq.layers:
                book = layer.codebook
                pick = torch.randint(0, frames.shape[0], (book.codebook_size,), generator=gen)
                jitter = torch.randn(book.codebook_size, frames.shape[1], generator=gen)
                embed = frames[pick] + 0.05 * frames.std() * jitter
                book.embed_sum.copy_(embed)
                book.cluster_usage.fill_(1.0)
                book._embed = None
                frames = frames - embed[book.quantize(frames)]


@register
class MimiCodec(HubRVQCodec):
    """Mimi. Options: ``weights`` (folder), ``random_weights`` (bool), ``seed`` (0)."""

    name = "mimi"
    description = "Mimi (Kyutai, 2024), transformers MimiModel: 24 kHz, 12.5 Hz, 0.1375-4.4 kbps; weights CC-BY 4.0"
    sample_rates = (24000,)
    channel_options = (1,)
    hop = HOP
    code_bits = CODE_BITS
    bitrates = make_bitrates(code_bits=CODE_BITS, frame_rate=24000 / HOP, max_codebooks=MAX_CODEBOOKS,
                             published=(8, 16, 32))

    @classmethod
    def build_random(cls, seed: int) -> Any:
        from transformers import MimiConfig, MimiModel

        model = MimiModel(MimiConfig()).eval()
        _seed_codebooks(model, seed)
        return model

    @classmethod
    def load_pretrained(cls, folder) -> Any:
        from transformers import MimiModel

        return MimiModel.from_pretrained(str(folder), local_files_only=True)

    def encode_codes(self, wav) -> Any:
        import torch

        wav = torch.nn.functional.pad(wav, (0, (-wav.shape[-1]) % HOP))
        return self.model.encode(wav, num_quantizers=self.num_codebooks).audio_codes[0]

    def decode_codes(self, codes) -> np.ndarray:
        return self.model.decode(codes[None]).audio_values[0, 0].numpy()
