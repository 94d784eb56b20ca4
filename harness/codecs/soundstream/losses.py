"""SoundStream training losses (arXiv 2107.03312, Sec. III-E).

* Adversarial: hinge loss over the discriminators' logits (averaged over time/frequency positions).
* Feature matching: L1 distance between discriminator feature maps of real and decoded audio, each divided by
  the mean magnitude of the real features (so layers count equally), averaged over layers and discriminators.
* Multi-scale spectral reconstruction (Gritsenko et al. 2020): for window sizes s = 2^6 .. 2^11 (hop s/4),
  ``|| S_s(x) - S_s(G) ||_1 + alpha_s * || log S_s(x) - log S_s(G) ||_2`` with mel spectrogram S and
  ``alpha_s = sqrt(s / 2)``.
* Total generator loss ``lambda_adv * L_adv + lambda_feat * L_feat + lambda_rec * L_rec + commitment`` with the
  paper's weights lambda_adv = 1, lambda_feat = 100, lambda_rec = 1.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LAMBDA_ADV = 1.0
LAMBDA_FEAT = 100.0
LAMBDA_REC = 1.0


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None
                   ) -> np.ndarray:
    """The harness's triangular HTK mel filters (peak 1; :func:`harness.audio.mel_filterbank`) as float32."""
    from harness.audio import mel_filterbank as _mel

    return _mel(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


class MultiScaleMelLoss(nn.Module):
    """The reconstruction loss above (per-frame norms over mel bins, averaged over frames and the six scales)."""

    def __init__(self, sample_rate: int = 24000, exponents: tuple[int, ...] = tuple(range(6, 12)),
                 n_mels: int = 64) -> None:
        super().__init__()
        self.scales = [2 ** e for e in exponents]
        for s in self.scales:
            mels = min(n_mels, s // 4)  # tiny windows have too few FFT bins for 64 filters
            self.register_buffer(f"fb{s}", torch.from_numpy(mel_filterbank(s, mels, sample_rate)), persistent=False)
            self.register_buffer(f"win{s}", torch.hann_window(s), persistent=False)

    def mel(self, x: torch.Tensor, s: int) -> torch.Tensor:
        spec = torch.stft(x.squeeze(1), s, s // 4, window=getattr(self, f"win{s}"), return_complex=True).abs()
        return torch.matmul(getattr(self, f"fb{s}"), spec)  # (B, mels, frames)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        for s in self.scales:
            sx, sy = self.mel(x, s), self.mel(y, s)
            l1 = (sx - sy).abs().sum(dim=1).mean()  # L1 norm over mel bins, mean over frames
            logd = torch.log(sx.clamp_min(1e-5)) - torch.log(sy.clamp_min(1e-5))
            l2 = logd.pow(2).sum(dim=1).add(1e-8).sqrt().mean()  # L2 norm over mel bins, mean over frames
            total = total + l1 + math.sqrt(s / 2) * l2
        return total / len(self.scales)


def discriminator_hinge(real: list, fake: list) -> torch.Tensor:
    """Hinge loss for the discriminators: mean(relu(1 - D(x))) + mean(relu(1 + D(G(x))))."""
    loss = 0.0
    for (lr, _), (lf, _) in zip(real, fake):
        loss = loss + F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
    return loss / len(real)


def generator_hinge(fake: list) -> torch.Tensor:
    """Adversarial loss for the generator: mean(relu(1 - D(G(x))))."""
    return sum(F.relu(1 - lf).mean() for lf, _ in fake) / len(fake)


def feature_matching(real: list, fake: list) -> torch.Tensor:
    loss, n = 0.0, 0
    for (_, fr), (_, ff) in zip(real, fake):
        for a, b in zip(fr, ff):
            loss = loss + (a.detach() - b).abs().mean() / (a.detach().abs().mean() + 1e-5)
            n += 1
    return loss / max(n, 1)


@dataclasses.dataclass(frozen=True)
class LossWeights:
    adv: float = LAMBDA_ADV
    feat: float = LAMBDA_FEAT
    rec: float = LAMBDA_REC
    commit: float = 1.0
    wave: float = 0.0  # optional L1 waveform term (not in the paper; EnCodec uses one); 0 = paper recipe
    snr: float = 0.0  # optional negative-SNR waveform term in dB (see :func:`snr_loss`; not in the paper)


def snr_loss(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """``10 log10(||y - y_hat||^2 / ||y||^2)`` in dB, averaged over the batch: 0 dB for silence out, lower is
    better, i.e. the negative of each example's SNR. Unlike SI-SNR it is not scale-invariant, so it also trains the
    output level; unlike an L1 waveform loss its gradient does not shrink with the signal's level, so quiet and
    loud excerpts count alike."""
    err = (target - estimate).pow(2).sum(dim=-1).flatten()
    ref = target.pow(2).sum(dim=-1).flatten()
    return (10.0 * torch.log10((err + 1e-7) / (ref + 1e-7))).mean()
