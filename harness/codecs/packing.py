"""Pack fixed-width integer codes into bytes, most significant bit first, and back; and a small payload header.

Neural codecs emit integer indices (EnCodec/SoundStream: 10-bit codebook indices; Lyra: 4-bit quantizer
indices). Storing them densely makes the payload size - and so the *measured* bitrate - exactly
``count * bits`` rounded up to whole bytes. The bit order follows Lyra v2's packet format: the first code
occupies the most significant bits of the first byte; the last byte is zero-padded at its low end.

A self-describing payload starts with a :class:`PayloadHeader` (7 bytes: tag, format version, number of
quantizers, length in samples; see :func:`pack_header`), so a payload decoded at the wrong bitrate, truncated,
or of another format is a clear :class:`CodecError` instead of noise. Its bytes are part of the payload, so they
count in the measured bitrate.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Callable

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


# --- payload header -------------------------------------------------------------------------------------------
_HEADER = struct.Struct(">BBBI")  # tag, format version, n_q, length in samples (big-endian uint32)
HEADER_SIZE = _HEADER.size  # 7 bytes = 56 bits per payload
# One tag byte per payload format, so one codec's payload is never decoded as another's. Add yours here.
PAYLOAD_TAGS = {"soundstream": 0x53, "soundstream_ec": 0x45}  # ASCII "S", "E"


@dataclasses.dataclass(frozen=True)
class PayloadHeader:
    """What a payload says about itself: ``tag`` (format, :data:`PAYLOAD_TAGS`), ``version`` (of the body
    layout), ``n_q`` (quantizers per frame, 1..255: the bitrate) and ``length`` (samples at the codec's rate,
    so the decoder returns exactly the encoded length)."""

    tag: int
    version: int
    n_q: int
    length: int

    def pack(self) -> bytes:
        for name, value, hi in (("tag", self.tag, 255), ("version", self.version, 255), ("n_q", self.n_q, 255),
                                ("length", self.length, 2**32 - 1)):
            if not isinstance(value, (int, np.integer)) or not 0 <= value <= hi:
                raise CodecError(f"payload header: {name} must be an integer in 0..{hi}, got {value!r}")
        return _HEADER.pack(self.tag, self.version, self.n_q, self.length)


def pack_header(*, tag: int, version: int, n_q: int, length: int) -> bytes:
    """The 7-byte header: ``tag`` (1 byte), ``version`` (1 byte), ``n_q`` (1 byte), ``length`` in samples
    (4 bytes, big-endian; up to 2^32 - 1 samples, 49.7 h at 24 kHz)."""
    return PayloadHeader(tag=tag, version=version, n_q=n_q, length=length).pack()


def read_header(payload: bytes, *, codec: str, tag: int, version: int, n_q: int,
                describe: Callable[[int], str] = lambda n: f"{n} quantizers") -> tuple[PayloadHeader, bytes]:
    """Check ``payload``'s header against what the decoder was configured for; return it and the body.

    Raises :class:`CodecError` when the payload is shorter than a header, has another format's ``tag``, a
    format ``version`` this build cannot read, or was coded at another number of quantizers than ``n_q``
    (``describe(n)`` turns a count into words such as "6 kbps" for the message).
    """
    if len(payload) < HEADER_SIZE:
        raise CodecError(f"{codec}: payload of {len(payload)} bytes is shorter than its {HEADER_SIZE}-byte header; "
                         "it is truncated or empty")
    head = PayloadHeader(*_HEADER.unpack_from(payload, 0))
    if head.tag != tag:
        raise CodecError(f"{codec}: not a {codec} payload (header tag 0x{head.tag:02x}, expected 0x{tag:02x})")
    if head.version != version:
        raise CodecError(f"{codec}: payload format version {head.version}; this build reads version {version}. "
                         "Decode it with the harness version that wrote it, or re-encode")
    if head.n_q != n_q:
        raise CodecError(f"{codec}: payload was coded at {describe(head.n_q)} but the decoder is set to "
                         f"{describe(n_q)}; decode it at {describe(head.n_q)}")
    return head, bytes(payload[HEADER_SIZE:])


def check_body_size(body: bytes, *, codec: str, need: int) -> None:
    """A body must hold exactly ``need`` bytes: fewer is a truncated payload, more is trailing garbage."""
    if len(body) < need:
        raise CodecError(f"{codec}: payload body holds {len(body)} bytes but its header announces {need}; "
                         "the payload is truncated")
    if len(body) > need:
        raise CodecError(f"{codec}: payload body holds {len(body)} bytes, {len(body) - need} more than its header "
                         "announces; it is corrupt or two payloads were joined")
