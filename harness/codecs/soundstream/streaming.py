"""Frame-by-frame SoundStream: 320 samples in -> n_q codes out (encoder), n_q codes in -> 320 samples out
(decoder), with every convolution's left context cached between frames.

Two implementations give the same samples as the offline model (:meth:`SoundStream.encode` / ``decode``), up
to float rounding: the model's own streaming mode (``model.set_streaming(True)``: each convolution keeps its
left context, each transposed convolution carries its overlap to the next frame), and :class:`StreamingCodec`,
a NumPy re-implementation of the same graph built from the model's weights. PyTorch spends a few microseconds
dispatching each operator, and one 320-sample frame through ~60 small layers is dominated by that overhead;
the NumPy engine (im2col + one matmul per convolution, precomputed gather indices) is several times faster.

Latency: the encoder needs one whole frame (``hop`` = 320 samples = 13.3 ms at 24 kHz) before it can emit
that frame's codes, and the decoder then emits the frame's 320 samples at once, time-aligned with the input
(output sample ``n`` reconstructs input sample ``n``; no further delay). The algorithmic latency of
encode+decode is therefore exactly one frame: :data:`ALGORITHMIC_LATENCY_SAMPLES` at 24 kHz.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.codecs.soundstream.model import (FiLM, ResidualUnit, SoundStream, StreamConv1d,
                                              StreamConvTranspose1d)

#: algorithmic latency of streaming encode+decode at the paper's strides, in samples at 24 kHz (13.3 ms)
ALGORITHMIC_LATENCY_SAMPLES = 320


def algorithmic_latency(model: SoundStream) -> tuple[int, float]:
    """``(samples, milliseconds)`` of algorithmic latency: one frame of ``hop`` samples."""
    return model.cfg.hop, 1000.0 * model.cfg.hop / model.cfg.sample_rate


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy().copy()


def _elu(x: np.ndarray) -> np.ndarray:
    """ELU as ``max(x, exp(min(x, 0)) - 1)`` (equal, since e^x - 1 >= x): three vectorised NumPy calls (float32
    ``exp`` is SIMD in NumPy, ``expm1`` is not; the difference is below 1e-7)."""
    y = np.exp(np.minimum(x, 0))
    y -= 1
    return np.maximum(x, y, out=y)


class _Conv:
    """Causal conv on (C, L) float32 with a cached left context."""

    def __init__(self, m: StreamConv1d) -> None:
        w = _np(m.weight)
        self.cout, self.cin, self.k = w.shape
        self.w = np.ascontiguousarray(w.reshape(self.cout, self.cin * self.k))
        self.b = _np(m.bias)[:, None]
        self.s, self.d, self.left = m.stride[0], m.dilation[0], m.left
        self.idx: dict[int, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((self.cin, self.left), np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.left:
            x = np.concatenate((self.state, x), axis=1)
            self.state = x[:, x.shape[1] - self.left:]
        if self.k == 1:
            return self.w @ x + self.b
        n = x.shape[1]
        idx = self.idx.get(n)
        if idx is None:
            lout = (n - (self.k - 1) * self.d - 1) // self.s + 1
            idx = self.idx[n] = (np.arange(self.k)[:, None] * self.d + np.arange(lout)[None, :] * self.s)
        return self.w @ np.take(x, idx, axis=1).reshape(self.cin * self.k, -1) + self.b


class _ConvT:
    """Causal transposed conv (kernel 2*stride) with the overlap carried to the next frame."""

    def __init__(self, m: StreamConvTranspose1d) -> None:
        w = _np(m.weight)  # (Cin, Cout, 2s)
        self.cin, self.cout, k = w.shape
        self.s = m.stride[0]
        self.w = np.ascontiguousarray(w.transpose(2, 1, 0).reshape(k * self.cout, self.cin))
        self.b = _np(m.bias)[:, None]
        self.reset()

    def reset(self) -> None:
        self.tail = np.zeros((self.s, self.cout, 1), np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[1]
        y = (self.w @ x).reshape(2, self.s, self.cout, n)  # [half, j, o, t]
        prev = np.concatenate((self.tail, y[1, :, :, : n - 1]), axis=2)
        self.tail = y[1, :, :, n - 1:]
        out = (y[0] + prev).transpose(1, 2, 0).reshape(self.cout, n * self.s)
        return out + self.b


class _Residual:
    def __init__(self, m: ResidualUnit) -> None:
        self.conv, self.proj = _Conv(m.conv), _Conv(m.proj)

    def reset(self) -> None:
        self.conv.reset()
        self.proj.reset()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x + self.proj(_elu(self.conv(_elu(x))))


class _ELU:
    def reset(self) -> None:
        pass

    __call__ = staticmethod(_elu)


def _flatten(module: nn.Module) -> list:
    ops: list = []
    for m in module.children():
        if isinstance(m, StreamConv1d):
            ops.append(_Conv(m))
        elif isinstance(m, StreamConvTranspose1d):
            ops.append(_ConvT(m))
        elif isinstance(m, ResidualUnit):
            ops.append(_Residual(m))
        elif isinstance(m, nn.ELU):
            ops.append(_ELU())
        elif isinstance(m, nn.Sequential):
            ops += _flatten(m)
        else:
            raise TypeError(f"no streaming implementation for {type(m).__name__}")
    return ops


def _film(film: FiLM | None, denoise: bool) -> tuple[np.ndarray, np.ndarray] | None:
    if film is None:
        return None
    gb = _np(film.table.weight)[int(bool(denoise))]
    d = gb.shape[0] // 2
    return gb[:d, None], gb[d:, None]


class StreamingCodec:
    """Streams one signal at a time through a NumPy copy of ``model`` (the model itself is not touched).

    Call :meth:`encode_frame` / :meth:`decode_frame` with consecutive frames of ``hop`` samples; :meth:`reset`
    before the next signal. ``latency_samples`` is the algorithmic latency (one frame).
    """

    def __init__(self, model: SoundStream, *, n_q: int, denoise: bool = False) -> None:
        cfg = model.cfg
        if not 1 <= n_q <= cfg.n_q:
            raise ValueError(f"n_q must be in 1..{cfg.n_q}, got {n_q}")
        self.n_q, self.hop, self.latency_samples = n_q, cfg.hop, cfg.hop
        self.enc = _flatten(model.encoder.net)
        self.dec = _flatten(model.decoder.net)
        self.film_enc, self.film_dec = _film(model.film_enc, denoise), _film(model.film_dec, denoise)
        books = [_np(layer.embed) for layer in model.quantizer.layers[:n_q]]
        self.books = books
        self.norms = [(b * b).sum(1) for b in books]
        self.books_m2 = [np.ascontiguousarray(-2.0 * b) for b in books]  # distance = ||e||^2 - 2 e.r (+ ||r||^2)
        self._dist = np.empty(cfg.codebook_size, np.float32)
        self.stacked = np.concatenate(books)  # (n_q*K, D) for one-gather decoding
        self.offsets = np.arange(n_q) * cfg.codebook_size

    def reset(self) -> None:
        for op in self.enc + self.dec:
            op.reset()

    def encode_frame(self, frame: np.ndarray) -> np.ndarray:
        """Codes (n_q,) int64 for one frame of ``hop`` float samples."""
        x = np.asarray(frame, dtype=np.float32).reshape(1, -1)
        if x.shape[1] != self.hop:
            raise ValueError(f"a frame has {self.hop} samples, got {x.shape[1]}")
        for op in self.enc:
            x = op(x)
        if self.film_enc is not None:
            x = self.film_enc[0] * x + self.film_enc[1]
        r = np.ascontiguousarray(x[:, 0])
        codes = np.empty(self.n_q, np.int64)
        dist = self._dist
        for i in range(self.n_q):
            np.dot(self.books_m2[i], r, out=dist)
            dist += self.norms[i]
            c = int(dist.argmin())
            codes[i] = c
            r = r - self.books[i][c]
        return codes

    def decode_frame(self, codes: np.ndarray) -> np.ndarray:
        """``hop`` float32 samples from one frame's codes (n_q,)."""
        c = np.asarray(codes, dtype=np.int64).reshape(-1)
        x = self.stacked[c + self.offsets[: c.shape[0]]].sum(0)[:, None]
        if self.film_dec is not None:
            x = self.film_dec[0] * x + self.film_dec[1]
        for op in self.dec:
            x = op(x)
        return x[0]

    def process(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stream a whole 1-D signal frame by frame (end zero-padded to whole frames):
        ``(codes (n_q, frames), output samples)``."""
        x = np.asarray(signal, dtype=np.float32).reshape(-1)
        x = np.pad(x, (0, (-x.shape[0]) % self.hop))
        codes, out = [], []
        for i in range(0, x.shape[0], self.hop):
            c = self.encode_frame(x[i:i + self.hop])
            codes.append(c)
            out.append(self.decode_frame(c))
        return np.stack(codes, axis=1), np.concatenate(out)
