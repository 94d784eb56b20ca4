"""Pack fixed-width integer codes into bytes, most significant bit first, and back.

Neural codecs emit integer indices (EnCodec/SoundStream: 10-bit codebook indices; Lyra: 4-bit quantizer
indices). Storing them densely makes the payload size - and so the *measured* bitrate - exactly
``count * bits`` rounded up to whole bytes. The bit order follows Lyra v2's packet format: the first code
occupies the most significant bits of the first byte; the last byte is zero-padded at its low end.
"""

from __future__ import annotations

import math

import numpy as np

from harness.codecs.base import CodecError

MAX_BITS = 32


def packed_size(count: int, bits: int) -> int:
    """Bytes needed for ``count`` codes of ``bits`` bits each."""
    return math.ceil(count * bits / 8)


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise CodecError(f"bits per code must be an integer in 1..{MAX_BITS}, got {bits!r}")


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integer ``codes`` (any shape, read in C order) as ``bits``-bit fields, MSB first.

    Raises :class:`CodecError` if a code is negative or does not fit in ``bits`` bits.
    """
    _check_bits(bits)
    flat = np.asarray(codes).reshape(-1)
    if flat.size == 0:
        return b""
    if not np.issubdtype(flat.dtype, np.integer):
        if not np.all(np.equal(np.mod(flat, 1), 0)):
            raise CodecError("codes to pack must be integers")
    flat = flat.astype(np.int64)
    lo, hi = int(flat.min()), int(flat.max())
    if lo < 0 or hi >= (1 << bits):
        raise CodecError(f"codes must lie in 0..{(1 << bits) - 1} to fit {bits} bits; got range {lo}..{hi}")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    bit_matrix = ((flat[:, None] >> shifts[None, :]) & 1).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1), bitorder="big").tobytes()


def unpack_codes(payload: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: the first ``count`` ``bits``-bit codes of ``payload`` as int64 (1-D).

    Raises :class:`CodecError` if ``payload`` is too short to hold ``count`` codes.
    """
    _check_bits(bits)
    if count < 0:
        raise CodecError(f"code count must be >= 0, got {count}")
    need = packed_size(count, bits)
    if len(payload) < need:
        raise CodecError(
            f"payload holds {len(payload)} bytes but {count} codes of {bits} bits need {need}; it is truncated"
        )
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(bytes(payload[:need]), dtype=np.uint8)
    bit_arr = np.unpackbits(raw, bitorder="big")[: count * bits].reshape(count, bits).astype(np.int64)
    weights = np.left_shift(np.int64(1), np.arange(bits - 1, -1, -1, dtype=np.int64))
    return bit_arr @ weights
