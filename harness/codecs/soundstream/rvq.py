"""Residual vector quantizer (RVQ) with EMA codebooks, k-means initialisation, dead-code replacement and
quantizer dropout, as in SoundStream (arXiv 2107.03312, Sec. III-C, Algorithm 1).

Each of ``n_q`` stages quantizes the residual left by the previous ones with its own ``codebook_size``-entry
codebook (1024 entries = 10 bits). Codebooks are not trained by gradients: they track exponential moving
averages of the vectors assigned to them (van den Oord et al. 2017, App. A.1; decay 0.99). A codebook is
initialised by k-means on the first training batch; an entry whose EMA usage falls below
``dead_code_threshold`` is re-seeded with a random vector from the current batch. The encoder receives the
straight-through gradient and the commitment loss ``||z - sg(q)||^2``. Quantizer dropout: in training, each
batch uses a random number of stages in ``1..n_q`` so one model serves every bitrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from harness.codecs.soundstream.model import SoundStreamConfig


def kmeans(samples: torch.Tensor, k: int, iters: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd's k-means on ``samples`` (N, D). Seeding: k-means++ (Arthur & Vassilvitskii 2007) when N > k;
    with N <= k every sample becomes a centroid and the rest are random samples (duplicates)."""
    n = samples.shape[0]
    if n <= k:
        extra = torch.randint(0, n, (k - n,), generator=generator, device="cpu")
        idx = torch.cat([torch.arange(n), extra])
        centroids = samples[idx.to(samples.device)].clone()
    else:
        first = int(torch.randint(0, n, (1,), generator=generator))
        centroids = samples.new_empty(k, samples.shape[1])
        centroids[0] = samples[first]
        d2 = (samples - centroids[0]).pow(2).sum(1)
        for i in range(1, k):
            pick = int(torch.multinomial(d2.cpu() + 1e-12, 1, generator=generator))
            centroids[i] = samples[pick]
            d2 = torch.minimum(d2, (samples - centroids[i]).pow(2).sum(1))
    for _ in range(iters):
        assign = torch.cdist(samples, centroids).argmin(dim=1)
        counts = torch.bincount(assign, minlength=k).to(samples.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, samples)
        used = counts > 0
        centroids[used] = sums[used] / counts[used, None]
    return centroids


class EMAVectorQuantizer(nn.Module):
    """One codebook stage. Buffers: ``embed`` (K, D), EMA ``cluster_size`` (K) and ``embed_sum`` (K, D)."""

    def __init__(self, dim: int, codebook_size: int, *, decay: float, dead_threshold: float, kmeans_iters: int
                 ) -> None:
        super().__init__()
        self.dim, self.size = dim, codebook_size
        self.decay, self.dead_threshold, self.kmeans_iters = decay, dead_threshold, kmeans_iters
        self.register_buffer("embed", torch.randn(codebook_size, dim) * 0.01)
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed_sum", self.embed.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self.eps = 1e-5

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook entry for each row of ``x`` (N, D) (squared Euclidean distance)."""
        if self.training:
            norms = self.embed.pow(2).sum(1)
        else:  # cached between calls while the codebook is unchanged (streaming calls this per frame)
            key = (self.embed.data_ptr(), self.embed._version)
            if getattr(self, "_norm_key", None) != key:
                self._norms, self._norm_key = self.embed.pow(2).sum(1), key
            norms = self._norms
        # ||x||^2 is the same for every entry, so it does not change the argmin
        return torch.addmm(norms[None, :], x, self.embed.t(), alpha=-2.0).argmin(dim=1)

    @torch.no_grad()
    def init_kmeans(self, x: torch.Tensor) -> None:
        c = kmeans(x, self.size, self.kmeans_iters)
        self.embed.copy_(c)
        self.embed_sum.copy_(c)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def ema_update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        onehot_counts = torch.bincount(idx, minlength=self.size).to(x.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, x)
        self.cluster_size.mul_(self.decay).add_(onehot_counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.size * self.eps) * n  # Laplace smoothing
        self.embed.copy_(self.embed_sum / smoothed[:, None])

    @torch.no_grad()
    def replace_dead(self, x: torch.Tensor) -> int:
        """Re-seed entries whose EMA usage is below the threshold with random batch vectors; returns how many."""
        dead = self.cluster_size < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(0, x.shape[0], (n_dead,), device=x.device)
            self.embed[dead] = x[pick]
            self.embed_sum[dead] = x[pick]
            self.cluster_size[dead] = 1.0
        return n_dead

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize rows of ``x`` (N, D): returns (quantized (N, D), indices (N,)); updates codebooks in training."""
        if self.training:
            if not bool(self.initialized):
                self.init_kmeans(x.detach())
            self.replace_dead(x.detach())
            idx = self.nearest(x.detach())
            self.ema_update(x.detach(), idx)
        else:
            idx = self.nearest(x)
        return F.embedding(idx, self.embed), idx


class ResidualVQ(nn.Module):
    """``n_q`` EMA codebooks applied to successive residuals of a ``(B, D, T)`` embedding."""

    def __init__(self, cfg: "SoundStreamConfig") -> None:
        super().__init__()
        self.n_q = cfg.n_q
        self.layers = nn.ModuleList(
            EMAVectorQuantizer(cfg.dim, cfg.codebook_size, decay=cfg.ema_decay,
                               dead_threshold=cfg.dead_code_threshold, kmeans_iters=cfg.kmeans_iters)
            for _ in range(cfg.n_q)
        )

    def _check(self, n_q: int) -> int:
        if not 1 <= int(n_q) <= self.n_q:
            raise ValueError(f"n_q must be in 1..{self.n_q}, got {n_q}")
        return int(n_q)

    def forward(self, z: torch.Tensor, *, n_q: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """Returns (quantized with straight-through gradient (B, D, T), codes (B, n_q, T), commitment loss, n_q).

        ``n_q=None`` means a random count in 1..N in training (quantizer dropout) and N in eval mode.
        """
        if n_q is None:
            n_q = int(torch.randint(1, self.n_q + 1, ())) if self.training else self.n_q
        n_q = self._check(n_q)
        with torch.autocast(device_type=z.device.type, enabled=False):  # codebooks and EMA stay float32
            return self._quantize(z.float(), n_q)

    def _quantize(self, z: torch.Tensor, n_q: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        b, d, t = z.shape
        flat = z.permute(0, 2, 1).reshape(-1, d)
        residual = flat
        quantized = torch.zeros_like(flat)
        codes = []
        commit = flat.new_zeros(())
        for layer in self.layers[:n_q]:
            q, idx = layer(residual)
            commit = commit + F.mse_loss(residual, q.detach())
            residual = residual - q.detach()
            quantized = quantized + q.detach()
            codes.append(idx)
        out = flat + (quantized - flat).detach()  # straight-through estimator
        out = out.reshape(b, t, d).permute(0, 2, 1)
        codes_t = torch.stack(codes, dim=0).reshape(n_q, b, t).permute(1, 0, 2)
        return out, codes_t, commit, n_q

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int) -> torch.Tensor:
        n_q = self._check(n_q)
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(-1, d)
        codes = []
        for layer in self.layers[:n_q]:
            idx = layer.nearest(residual)
            residual = residual - F.embedding(idx, layer.embed)
            codes.append(idx)
        return torch.stack(codes, dim=0).reshape(n_q, b, t).permute(1, 0, 2)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Embedding ``(B, D, T)`` from codes ``(B, n_q, T)``."""
        b, n_q, t = codes.shape
        self._check(n_q)
        out = None
        for i in range(n_q):
            e = F.embedding(codes[:, i], self.layers[i].embed)  # (B, T, D)
            out = e if out is None else out + e
        return out.permute(0, 2, 1)
