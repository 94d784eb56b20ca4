"""Lossless range coding of residual-VQ codes with ``constriction`` (Bamler 2022, arXiv 2201.01741), driven by a
:class:`~harness.codecs.entropy.context_model.NgramContextModel`.

Frame by frame, the model gives a distribution over the codebook for each quantizer level (from the previous
frame's codes); constriction's range coder (a queue: decoded in the order encoded) codes the frame's codes with
those distributions, quantised to fixed point by ``Categorical(perfect=False)``, which gives every code a non-zero
probability. Encoder and decoder compute the same distributions with the same function from the same codes, so the
codes come back exactly. The output is constriction's compressed 32-bit words, little-endian.
"""

from __future__ import annotations

import numpy as np

from harness.codecs.base import CodecError
from harness.codecs.entropy.context_model import NgramContextModel


def _family():
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


def encode_codes(codes: np.ndarray, model: NgramContextModel) -> bytes:
    """``codes`` ``(frames, n_q)`` integers in 0..K-1 -> compressed bytes (a multiple of 4)."""
    import constriction

    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.size and (codes.min() < 0 or codes.max() >= model.codebook_size):
        raise CodecError(f"codes must be (frames, n_q) integers in 0..{model.codebook_size - 1}")
    n_q, family = codes.shape[1], _family()
    enc = constriction.stream.queue.RangeEncoder()
    prev = None
    for frame in codes:
        enc.encode(frame.astype(np.int32), family, model.probabilities(prev, n_q))
        prev = frame
    return enc.get_compressed().astype("<u4").tobytes()


def decode_codes(data: bytes, model: NgramContextModel, *, frames: int, n_q: int) -> np.ndarray:
    """Inverse of :func:`encode_codes`: ``(frames, n_q)`` int64 codes."""
    import constriction

    if len(data) % 4:
        raise CodecError(f"entropy-coded body of {len(data)} bytes is not whole 32-bit words; it is truncated")
    dec = constriction.stream.queue.RangeDecoder(np.frombuffer(data, "<u4").astype(np.uint32))
    family, out, prev = _family(), np.empty((frames, n_q), np.int64), None
    try:
        for t in range(frames):
            out[t] = dec.decode(family, model.probabilities(prev, n_q))
            prev = out[t]
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"entropy-coded body does not decode ({exc}); it is truncated or corrupt") from exc
    return out
