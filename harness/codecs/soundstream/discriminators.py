"""SoundStream discriminators (arXiv 2107.03312, Sec. III-D): a wave-based discriminator at three resolutions
(original, 2x and 4x down-sampled; MelGAN-style, Kumar et al. 2019) and an STFT-based discriminator on the
complex spectrogram (real and imaginary parts as two channels). Widths are small to keep CPU training feasible.

Each discriminator returns a list of (logits, feature maps) so the generator can use both the adversarial and
the feature-matching loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

Output = tuple[torch.Tensor, list[torch.Tensor]]


class WaveDiscriminator(nn.Module):
    """One MelGAN-style scale: strided grouped 1-D convolutions with leaky ReLU."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv1d(1, w, 15, padding=7)),
            weight_norm(nn.Conv1d(w, 2 * w, 41, stride=4, groups=4, padding=20)),
            weight_norm(nn.Conv1d(2 * w, 4 * w, 41, stride=4, groups=8, padding=20)),
            weight_norm(nn.Conv1d(4 * w, 8 * w, 41, stride=4, groups=16, padding=20)),
            weight_norm(nn.Conv1d(8 * w, 8 * w, 5, padding=2)),
        ])
        self.out = weight_norm(nn.Conv1d(8 * w, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> Output:
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            feats.append(x)
        return self.out(x), feats


class MultiScaleWaveDiscriminator(nn.Module):
    def __init__(self, scales: int = 3, width: int = 16) -> None:
        super().__init__()
        self.discs = nn.ModuleList(WaveDiscriminator(width) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[Output]:
        outs = []
        for i, d in enumerate(self.discs):
            if i:
                x = F.avg_pool1d(x, 4, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs


class STFTDiscriminator(nn.Module):
    """2-D convolutions over the complex STFT (window 1024, hop 256): time x frequency, down-sampled in frequency."""

    def __init__(self, width: int = 16, n_fft: int = 1024, hop: int = 256) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        w = width
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(2, w, (7, 7), padding=(3, 3))),
            weight_norm(nn.Conv2d(w, 2 * w, (3, 4), stride=(1, 2), padding=(1, 1))),
            weight_norm(nn.Conv2d(2 * w, 4 * w, (4, 4), stride=(2, 2), padding=(1, 1))),
            weight_norm(nn.Conv2d(4 * w, 4 * w, (3, 4), stride=(1, 2), padding=(1, 1))),
            weight_norm(nn.Conv2d(4 * w, 8 * w, (4, 4), stride=(2, 2), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(8 * w, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> Output:
        spec = torch.stft(x.squeeze(1), self.n_fft, self.hop, window=self.window, return_complex=True)
        h = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # (B, 2, T, F)
        feats = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
            feats.append(h)
        return self.out(h), feats


class Discriminators(nn.Module):
    """All discriminators together: 3-scale wave + STFT."""

    def __init__(self, width: int = 16, scales: int = 3) -> None:
        super().__init__()
        self.wave = MultiScaleWaveDiscriminator(scales, width)
        self.stft = STFTDiscriminator(width)

    def forward(self, x: torch.Tensor) -> list[Output]:
        return self.wave(x) + [self.stft(x)]
