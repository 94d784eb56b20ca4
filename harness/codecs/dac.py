"""DAC, the Descript Audio Codec (Kumar et al. 2023, arXiv 2306.06546), through the ``DacModel`` of transformers.

Three published models (code and weights MIT), each any whole number of 10-bit codebooks (1024 entries) per frame:

| codec | rate | hop | frames/s | kbps per codebook | codebooks | kbps |
|---|---|---|---|---|---|---|
| ``dac_16khz`` | 16 kHz | 320 | 50 | 0.5 | 1-12 | 0.5-6 |
| ``dac_24khz`` | 24 kHz | 320 | 75 | 0.75 | 1-32 | 0.75-24 |
| ``dac_44khz`` | 44.1 kHz | 512 | 86.13 | 0.8613 | 1-9 | 0.86-7.75 |

DAC was trained with quantizer dropout, so fewer codebooks than the maximum are a valid (lower) operating point.
The model is non-causal with "same" padding: output sample ``t`` reconstructs input sample ``t`` (delay 0). The input
is zero-padded to a whole number of frames; the transposed convolutions return 8 samples less than ``frames x hop``
(``transcode`` pads the end back with zeros when the input was already a whole number of frames).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.neural_base import HubRVQCodec, make_bitrates

#: DacConfig keyword arguments of the published models (their hub config.json files)
CONFIGS: dict[str, dict[str, Any]] = {
    "dac_16khz": dict(sampling_rate=16000, n_codebooks=12, downsampling_ratios=[2, 4, 5, 8],
                      upsampling_ratios=[8, 5, 4, 2], hop_length=320),
    "dac_24khz": dict(sampling_rate=24000, n_codebooks=32, downsampling_ratios=[2, 4, 5, 8],
                      upsampling_ratios=[8, 5, 4, 2], hop_length=320),
    "dac_44khz": dict(sampling_rate=44100, n_codebooks=9, downsampling_ratios=[2, 4, 8, 8],
                      upsampling_ratios=[8, 8, 4, 2], hop_length=512),
}
CODE_BITS = 10


class _Dac(HubRVQCodec):
    code_bits = CODE_BITS
    channel_options = (1,)

    @classmethod
    def build_random(cls, seed: int) -> Any:
        from transformers import DacConfig, DacModel

        return DacModel(DacConfig(**CONFIGS[cls.name]))

    @classmethod
    def load_pretrained(cls, folder) -> Any:
        from transformers import DacModel

        from harness.codecs.base import CodecError

        model = DacModel.from_pretrained(str(folder), local_files_only=True)
        if int(model.config.sampling_rate) != cls.sample_rates[0]:
            raise CodecError(f"weights in {folder} are for {model.config.sampling_rate} Hz, not {cls.name}")
        return model

    def encode_codes(self, wav) -> Any:
        import torch

        pad = (-wav.shape[-1]) % self.hop
        out = self.model.encode(torch.nn.functional.pad(wav, (0, pad)), n_quantizers=self.num_codebooks)
        return out.audio_codes[0, : self.num_codebooks]

    def decode_codes(self, codes) -> np.ndarray:
        return self.model.decode(audio_codes=codes[None]).audio_values[0].numpy()


def _make(name: str, hop: int, max_cb: int, published: tuple[int, ...]) -> type[_Dac]:
    rate = CONFIGS[name]["sampling_rate"]
    cls = type(f"Dac{name[4:]}", (_Dac,), {
        "__doc__": f"DAC {rate / 1000:g} kHz. Options: ``weights`` (folder), ``random_weights`` (bool), ``seed``.",
        "name": name, "sample_rates": (rate,), "hop": hop,
        "description": f"DAC {rate / 1000:g} kHz mono (Descript, 2023), transformers DacModel; MIT",
        "bitrates": make_bitrates(code_bits=CODE_BITS, frame_rate=rate / hop, max_codebooks=max_cb,
                                  published=published),
    })
    return register(cls)


Dac16 = _make("dac_16khz", 320, 12, (12,))
Dac24 = _make("dac_24khz", 320, 32, (32,))
Dac44 = _make("dac_44khz", 512, 9, (9,))
