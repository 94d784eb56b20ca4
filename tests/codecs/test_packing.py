import numpy as np
import pytest

from harness.codecs.base import CodecError
from harness.codecs.packing import (HEADER_SIZE, PayloadHeader, check_body_size, pack_codes, pack_header, packed_size,
                                    read_header, unpack_codes)


@pytest.mark.parametrize("bits", [1, 3, 4, 7, 10, 13, 16, 24, 32])
def test_round_trip_random_codes(bits):
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 1 << bits, size=(8, 75), dtype=np.int64)
    payload = pack_codes(codes, bits)
    assert len(payload) == packed_size(codes.size, bits) == -(-codes.size * bits // 8)
    back = unpack_codes(payload, bits, codes.size)
    np.testing.assert_array_equal(back, codes.reshape(-1))


def test_msb_first_golden_values():
    # Two 10-bit codes 0b1000000001, 0b0000000011 -> bits 1000000001 0000000011 0000 (zero-padded)
    assert pack_codes(np.array([0b1000000001, 0b11]), 10) == bytes([0b10000000, 0b01000000, 0b00110000])
    # Lyra-style 4-bit indices: first quantizer in the high nibble
    assert pack_codes(np.array([1, 2, 15]), 4) == bytes([0x12, 0xF0])
    np.testing.assert_array_equal(unpack_codes(bytes([0x12, 0xF0]), 4, 3), [1, 2, 15])


def test_out_of_range_and_truncated_payload_are_errors():
    with pytest.raises(CodecError, match="0..1023"):
        pack_codes(np.array([1024]), 10)
    with pytest.raises(CodecError, match="0..15"):
        pack_codes(np.array([-1]), 4)
    with pytest.raises(CodecError, match="truncated"):
        unpack_codes(b"\x00", 10, 2)
    with pytest.raises(CodecError, match="bits per code"):
        pack_codes(np.array([0]), 0)


def test_empty():
    assert pack_codes(np.zeros(0, dtype=np.int64), 10) == b""
    assert unpack_codes(b"", 10, 0).size == 0


def test_header_golden_bytes_and_round_trip():
    head = pack_header(tag=0x53, version=1, n_q=8, length=24000)
    assert HEADER_SIZE == 7 and head == bytes([0x53, 1, 8, 0, 0, 0x5D, 0xC0])
    got, body = read_header(head + b"xyz", codec="c", tag=0x53, version=1, n_q=8)
    assert got == PayloadHeader(tag=0x53, version=1, n_q=8, length=24000) and body == b"xyz"


def test_header_errors():
    head = pack_header(tag=0x53, version=1, n_q=8, length=100)
    with pytest.raises(CodecError, match="coded at 8 quantizers but the decoder is set to 4 quantizers"):
        read_header(head, codec="c", tag=0x53, version=1, n_q=4)
    with pytest.raises(CodecError, match="not a c payload"):
        read_header(head, codec="c", tag=0x54, version=1, n_q=8)
    with pytest.raises(CodecError, match="version 1; this build reads version 2"):
        read_header(head, codec="c", tag=0x53, version=2, n_q=8)
    with pytest.raises(CodecError, match="shorter than its 7-byte header"):
        read_header(head[:6], codec="c", tag=0x53, version=1, n_q=8)
    with pytest.raises(CodecError, match="length must be an integer"):
        pack_header(tag=0x53, version=1, n_q=8, length=2**32)
    with pytest.raises(CodecError, match="truncated"):
        check_body_size(b"ab", codec="c", need=3)
    with pytest.raises(CodecError, match="1 more than"):
        check_body_size(b"abcd", codec="c", need=3)
    check_body_size(b"abc", codec="c", need=3)
