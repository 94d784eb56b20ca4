"""SoundStream generator: causal convolutional encoder/decoder around a residual vector quantizer.

Architecture after Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec", arXiv 2107.03312 (2021),
Fig. 2/3: 24 kHz input, encoder blocks with strides (2, 4, 5, 8) (320x => 75 Hz frames), each preceded by three
residual units with dilations 1, 3, 9; ELU activations; all convolutions causal (padding on the left only) so
the model can stream. The decoder mirrors the encoder with transposed convolutions. Optional FiLM conditioning
(Perez et al. 2018) at the encoder output and decoder input switches joint denoising on/off.

Every convolution is a :class:`StreamConv1d` / :class:`StreamConvTranspose1d` that can run offline (zero left
padding) or in streaming mode (the left context is a cached buffer of the previous chunk), so feeding a signal
frame by frame (320 samples) gives the same output as feeding it whole. See :mod:`.streaming`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from harness.codecs.soundstream.rvq import ResidualVQ

SAMPLE_RATE = 24000


@dataclasses.dataclass(frozen=True)
class SoundStreamConfig:
    """Generator hyper-parameters (saved inside every checkpoint).

    ``channels`` is C of the paper (encoder widths 2C, 4C, 8C, 16C), ``dim`` the embedding size D,
    ``n_q`` the number of residual quantizers, each with ``codebook_size`` entries (1024 = 10 bits).
    """

    channels: int = 8
    dim: int = 64
    strides: tuple[int, ...] = (2, 4, 5, 8)
    dilations: tuple[int, ...] = (1, 3, 9)
    kernel_size: int = 7
    n_q: int = 24
    codebook_size: int = 1024
    ema_decay: float = 0.99
    dead_code_threshold: float = 0.1  # EMA usage count below which a code is re-seeded from the batch
    kmeans_iters: int = 10
    film: bool = False  # FiLM conditioning for joint denoising
    sample_rate: int = SAMPLE_RATE

    @property
    def hop(self) -> int:
        """Samples per code frame (product of the strides): 320 at the paper's strides."""
        h = 1
        for s in self.strides:
            h *= s
        return h

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def bits_per_code(self) -> int:
        return max(1, (self.codebook_size - 1).bit_length())

    def kbps(self, n_q: int) -> float:
        """Bitrate (kbps) with ``n_q`` quantizers: n_q x bits x frame rate / 1000 (0.75 kbps each at 75 Hz)."""
        return n_q * self.bits_per_code * self.frame_rate / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SoundStreamConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known}
        return cls(**kw)


PRESETS = {
    "tiny": SoundStreamConfig(channels=2, dim=16, n_q=8, codebook_size=1024),  # tests only
    "small": SoundStreamConfig(channels=4, dim=64),  # C=4 keeps streaming >= 10x realtime on one CPU thread
    "paper": SoundStreamConfig(channels=32, dim=512),
}


class StreamConv1d(nn.Conv1d):
    """Causal 1-D convolution. Offline: left-pads ``(k-1)*d + 1 - stride`` zeros so ``T`` in gives ``T/stride``
    out. Streaming: the left context is the tail of the previous chunk (kept in ``self.state``)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(cin, cout, kernel_size, stride=stride, dilation=dilation)
        self.left = (kernel_size - 1) * dilation + 1 - stride
        if self.left < 0:
            raise ValueError("kernel span must be at least the stride")
        self.streaming = False
        self.state: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.streaming:
            if self.left:
                if self.state is None:
                    self.state = x.new_zeros(x.shape[0], x.shape[1], self.left)
                x = torch.cat([self.state, x], dim=-1)
                self.state = x[..., x.shape[-1] - self.left:]
            if not torch.is_grad_enabled():
                return self._matmul_conv(x)
        elif self.left:
            x = F.pad(x, (self.left, 0))
        return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation)

    def _matmul_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The same convolution as im2col + one matmul: much cheaper than ``conv1d``'s dispatch (and its slow
        dilated path) on the short inputs of one streaming frame."""
        k, d, s = self.kernel_size[0], self.dilation[0], self.stride[0]
        b, cin, _ = x.shape
        if k == 1:
            return torch.addmm(self.bias[:, None], self.weight[:, :, 0], x[0])[None] if b == 1 else \
                F.conv1d(x, self.weight, self.bias)
        cols = x.unfold(2, (k - 1) * d + 1, s)  # (B, Cin, Lout, span)
        if d > 1:
            cols = cols[..., ::d]
        cols = cols.permute(0, 2, 1, 3).reshape(b, cols.shape[2], cin * k)
        w = self.weight.reshape(self.weight.shape[0], cin * k)
        return torch.baddbmm(self.bias[None, :, None], w.expand(b, -1, -1), cols.transpose(1, 2))


class StreamConvTranspose1d(nn.ConvTranspose1d):
    """Causal transposed convolution (kernel ``2*stride``): ``T`` in gives ``T*stride`` out. The overlapping
    tail that belongs to the next chunk is dropped offline and carried over (overlap-add) when streaming."""

    def __init__(self, cin: int, cout: int, *, stride: int) -> None:
        super().__init__(cin, cout, 2 * stride, stride=stride)
        self.streaming = False
        self.state: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1] * self.stride[0]
        y = F.conv_transpose1d(x, self.weight, None, self.stride)
        if self.streaming:
            if self.state is not None:
                y = torch.cat([y[..., : self.state.shape[-1]] + self.state, y[..., self.state.shape[-1]:]], dim=-1)
            self.state = y[..., n:]
        y = y[..., :n]
        return y + self.bias[None, :, None]


class ResidualUnit(nn.Module):
    def __init__(self, ch: int, dilation: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = StreamConv1d(ch, ch, kernel_size, dilation=dilation)
        self.proj = StreamConv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(F.elu(self.conv(F.elu(x))))


class EncoderBlock(nn.Sequential):
    def __init__(self, cout: int, stride: int, cfg: SoundStreamConfig) -> None:
        cin = cout // 2
        super().__init__(*[ResidualUnit(cin, d, cfg.kernel_size) for d in cfg.dilations], nn.ELU(),
                         StreamConv1d(cin, cout, 2 * stride, stride=stride))


class DecoderBlock(nn.Sequential):
    def __init__(self, cout: int, stride: int, cfg: SoundStreamConfig) -> None:
        super().__init__(nn.ELU(), StreamConvTranspose1d(2 * cout, cout, stride=stride),
                         *[ResidualUnit(cout, d, cfg.kernel_size) for d in cfg.dilations])


class FiLM(nn.Module):
    """Feature-wise affine modulation ``gamma(c) * x + beta(c)`` with ``c`` in {0: keep noise, 1: denoise}."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(2, 2 * dim)
        with torch.no_grad():
            self.table.weight[:, :dim] = 1.0
            self.table.weight[:, dim:] = 0.0

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.table(cond.long()).unsqueeze(-1).chunk(2, dim=1)
        return gamma * x + beta


class Encoder(nn.Module):
    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [StreamConv1d(1, c, 7)]
        for i, s in enumerate(cfg.strides):
            layers.append(EncoderBlock(c * 2 ** (i + 1), s, cfg))
        layers += [nn.ELU(), StreamConv1d(c * 2 ** len(cfg.strides), cfg.dim, 3)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        c = cfg.channels
        n = len(cfg.strides)
        layers: list[nn.Module] = [StreamConv1d(cfg.dim, c * 2 ** n, 7)]
        for i, s in enumerate(reversed(cfg.strides)):
            layers.append(DecoderBlock(c * 2 ** (n - i - 1), s, cfg))
        layers += [nn.ELU(), StreamConv1d(c, 1, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class SoundStream(nn.Module):
    """Encoder -> (FiLM) -> residual VQ -> (FiLM) -> decoder. Waveforms are ``(batch, 1, samples)`` at 24 kHz."""

    def __init__(self, cfg: SoundStreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantizer = ResidualVQ(cfg)
        self.film_enc = FiLM(cfg.dim) if cfg.film else None
        self.film_dec = FiLM(cfg.dim) if cfg.film else None

    # -- helpers --------------------------------------------------------------------------------------------
    def _cond(self, x: torch.Tensor, denoise: bool | torch.Tensor) -> torch.Tensor:
        if isinstance(denoise, torch.Tensor):
            return denoise.to(x.device).long().reshape(-1).expand(x.shape[0])
        return torch.full((x.shape[0],), int(bool(denoise)), dtype=torch.long, device=x.device)

    def pad_to_hop(self, wav: torch.Tensor) -> torch.Tensor:
        """Zero-pad the end of ``wav`` to a whole number of frames."""
        extra = (-wav.shape[-1]) % self.cfg.hop
        return F.pad(wav, (0, extra)) if extra else wav

    def embed(self, wav: torch.Tensor, denoise: bool | torch.Tensor = False) -> torch.Tensor:
        z = self.encoder(wav)
        if self.film_enc is not None:
            z = self.film_enc(z, self._cond(z, denoise))
        return z

    def synth(self, q: torch.Tensor, denoise: bool | torch.Tensor = False) -> torch.Tensor:
        if self.film_dec is not None:
            q = self.film_dec(q, self._cond(q, denoise))
        return self.decoder(q)

    # -- public API -----------------------------------------------------------------------------------------
    def forward(self, wav: torch.Tensor, *, n_q: int | None = None, denoise: bool | torch.Tensor = False
                ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Training pass: ``(reconstruction, commitment loss, n_q used)``. In training mode ``n_q=None`` draws
        a random number of quantizers in 1..N (quantizer dropout); in eval mode it means all N."""
        z = self.embed(wav, denoise)
        q, _codes, commit, used = self.quantizer(z, n_q=n_q)
        return self.synth(q, denoise), commit, used

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, n_q: int, denoise: bool | torch.Tensor = False) -> torch.Tensor:
        """Codes ``(batch, n_q, frames)`` (int64) for ``wav`` ``(batch, 1, samples)`` (end padded to frames)."""
        return self.quantizer.encode(self.embed(self.pad_to_hop(wav), denoise), n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, denoise: bool | torch.Tensor = False) -> torch.Tensor:
        """Waveform ``(batch, 1, frames*hop)`` from codes ``(batch, n_q, frames)``."""
        return self.synth(self.quantizer.decode(codes), denoise)

    def set_streaming(self, on: bool) -> None:
        """Switch every convolution to streaming (cached left context) or offline mode; clears the caches."""
        for m in self.modules():
            if isinstance(m, (StreamConv1d, StreamConvTranspose1d)):
                m.streaming = on
                m.state = None

    def reset_stream(self) -> None:
        for m in self.modules():
            if isinstance(m, (StreamConv1d, StreamConvTranspose1d)):
                m.state = None
