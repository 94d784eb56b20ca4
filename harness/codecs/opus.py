"""Opus (RFC 6716) through libopus, called with ctypes via ``opuslib``.

The adapter codes float32 audio frame by frame at one of Opus's native rates (8/12/16/24/48 kHz; 48 kHz by
default; :func:`harness.codecs.base.transcode` resamples), removes the encoder lookahead (``OPUS_GET_LOOKAHEAD``,
312 samples at 48 kHz = 6.5 ms) as :attr:`OpusCodec.delay_samples`, and stores the packets with a 2-byte
big-endian length prefix each. That framing is ours: :meth:`OpusCodec.payload_bits` counts only the Opus packet
bytes, so the measured bitrate is the codec's own (RFC 6716 packets, no container overhead).

Options (all keyword, defaults in brackets): ``vbr`` [true], ``vbr_constraint`` [false], ``complexity`` 0-10
[10], ``application`` audio|voip|lowdelay [audio], ``frame_ms`` 2.5/5/10/20/40/60 [20], ``bandwidth``
auto|nb|mb|wb|swb|fb [auto], ``signal`` auto|voice|music [auto], ``rate`` Hz [48000], ``channels`` 1|2 [1].
"""

from __future__ import annotations

import ctypes
import functools
import struct
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable

APPLICATIONS = {"audio": 2049, "voip": 2048, "lowdelay": 2051}
BANDWIDTHS = {"auto": -1000, "nb": 1101, "mb": 1102, "wb": 1103, "swb": 1104, "fb": 1105}
SIGNALS = {"auto": -1000, "voice": 3001, "music": 3002}
FRAME_MS = (2.5, 5.0, 10.0, 20.0, 40.0, 60.0)
RATES = (48000, 24000, 16000, 12000, 8000)
MAX_PACKET = 1500 * 3  # bytes; libopus never needs more than 1275 per frame x 3 frames

# encoder CTL request numbers (opus_defines.h)
_SET_APPLICATION, _SET_BITRATE, _SET_MAX_BANDWIDTH, _SET_VBR = 4000, 4002, 4004, 4006
_SET_BANDWIDTH, _SET_COMPLEXITY, _SET_VBR_CONSTRAINT, _SET_SIGNAL = 4008, 4010, 4020, 4024
_GET_LOOKAHEAD, _RESET_STATE = 4027, 4028


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    """The libopus shared library with the prototypes we call (raises CodecUnavailable if missing)."""
    try:
        import opuslib.api  # noqa: F401  (locates libopus; raises a bare Exception if absent)

        # a private handle: setting prototypes on opuslib's own function objects would break opuslib's classes
        lib = ctypes.CDLL(opuslib.api.lib_location)
    except Exception as exc:  # opuslib raises Exception('Could not find Opus library...')
        raise CodecUnavailable("libopus not found: apt-get install libopus0 (and pip install opuslib)") from exc
    vp = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int))
    lib.opus_encoder_create.restype = vp
    lib.opus_decoder_create.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int))
    lib.opus_decoder_create.restype = vp
    lib.opus_encoder_destroy.argtypes = (vp,)
    lib.opus_decoder_destroy.argtypes = (vp,)
    lib.opus_encode_float.argtypes = (vp, vp, ctypes.c_int, vp, ctypes.c_int32)
    lib.opus_encode_float.restype = ctypes.c_int32
    lib.opus_decode_float.argtypes = (vp, ctypes.c_char_p, ctypes.c_int32, vp, ctypes.c_int, ctypes.c_int)
    lib.opus_decode_float.restype = ctypes.c_int
    lib.opus_encoder_ctl.restype = ctypes.c_int
    lib.opus_decoder_ctl.restype = ctypes.c_int
    lib.opus_get_version_string.argtypes = ()
    lib.opus_get_version_string.restype = ctypes.c_char_p
    return lib


def libopus_version() -> str:
    """libopus's own version string, e.g. ``"libopus 1.3.1"``."""
    return _lib().opus_get_version_string().decode()


def _check(code: int, what: str) -> None:
    if code < 0:
        raise CodecError(f"libopus {what} failed with error {code}")


@register
class OpusCodec(Codec):
    name = "opus"
    description = "Opus (libopus via opuslib): 6-510 kbps, CBR/VBR, 2.5-60 ms frames"
    sample_rates = RATES
    channel_options = (1, 2)
    bitrates = BitrateSpec(range=(6.0, 510.0))
    bitrate_convention = "Opus packets only (RFC 6716), no container: our 2-byte packet lengths are not counted"

    def __init__(self, *, kbps: float, vbr: bool = True, vbr_constraint: bool = False, complexity: int = 10,
                 application: str = "audio", frame_ms: float = 20.0, bandwidth: str = "auto",
                 signal: str = "auto", rate: int = 48000, channels: int = 1) -> None:
        super().__init__(kbps=kbps)
        if application not in APPLICATIONS:
            raise CodecError(f"opus: application must be one of {', '.join(APPLICATIONS)}, got {application!r}")
        if bandwidth not in BANDWIDTHS:
            raise CodecError(f"opus: bandwidth must be one of {', '.join(BANDWIDTHS)}, got {bandwidth!r}")
        if signal not in SIGNALS:
            raise CodecError(f"opus: signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
        if float(frame_ms) not in FRAME_MS:
            raise CodecError(f"opus: frame_ms must be one of {', '.join(f'{f:g}' for f in FRAME_MS)}, got {frame_ms}")
        if int(rate) not in RATES:
            raise CodecError(f"opus: rate must be one of {', '.join(map(str, RATES))} Hz, got {rate}")
        if not isinstance(complexity, int) or isinstance(complexity, bool) or not 0 <= complexity <= 10:
            raise CodecError(f"opus: complexity must be an integer 0-10, got {complexity!r}")
        if int(channels) not in (1, 2):
            raise CodecError(f"opus: channels must be 1 or 2, got {channels}")
        for key, val in (("vbr", vbr), ("vbr_constraint", vbr_constraint)):
            if not isinstance(val, bool):
                raise CodecError(f"opus: {key} must be true or false, got {val!r}")
        self.options = {"vbr": vbr, "vbr_constraint": vbr_constraint, "complexity": complexity,
                        "application": application, "frame_ms": float(frame_ms), "bandwidth": bandwidth,
                        "signal": signal, "rate": int(rate), "channels": int(channels)}
        self._rate = int(rate)
        self._channels = int(channels)
        self._frame = int(round(self._rate * float(frame_ms) / 1000.0))
        self._enc: int | None = None
        self._dec: int | None = None
        self._lookahead: int | None = None

    # --- interface --------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def delay_samples(self) -> int:
        if self._lookahead is None:
            out = ctypes.c_int32()
            _check(_lib().opus_encoder_ctl(ctypes.c_void_p(self._encoder()), _GET_LOOKAHEAD, ctypes.byref(out)),
                   "OPUS_GET_LOOKAHEAD")
            self._lookahead = int(out.value)
        return self._lookahead

    def settings(self) -> dict[str, Any]:
        return dict(self.options)

    def versions(self) -> dict[str, str]:
        from importlib import metadata

        try:
            binding = metadata.version("opuslib")
        except metadata.PackageNotFoundError:
            binding = "unknown"
        return {"libopus": libopus_version(), "opuslib": binding}

    @classmethod
    def availability(cls, **options: Any) -> tuple[bool, str]:
        try:
            _lib()
        except CodecUnavailable as exc:
            return False, str(exc)
        return True, "ok"

    def payload_bits(self, payload: bytes) -> int:
        bits, pos = 0, 0
        while pos < len(payload):
            (n,) = struct.unpack_from(">H", payload, pos)
            bits += 8 * n
            pos += 2 + n
        return bits

    def reset(self) -> None:
        lib = _lib()
        if self._enc is not None:
            _check(lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), _RESET_STATE), "OPUS_RESET_STATE")
        if self._dec is not None:
            _check(lib.opus_decoder_ctl(ctypes.c_void_p(self._dec), _RESET_STATE), "OPUS_RESET_STATE")

    # --- state ------------------------------------------------------------------------------------------
    def _encoder(self) -> int:
        if self._enc is None:
            lib, err = _lib(), ctypes.c_int()
            o = self.options
            enc = lib.opus_encoder_create(self._rate, self._channels, APPLICATIONS[o["application"]],
                                          ctypes.byref(err))
            _check(err.value, "opus_encoder_create")
            vp = ctypes.c_void_p(enc)
            for req, val in ((_SET_BITRATE, int(round(self.kbps * 1000))), (_SET_VBR, int(o["vbr"])),
                             (_SET_VBR_CONSTRAINT, int(o["vbr_constraint"])), (_SET_COMPLEXITY, o["complexity"]),
                             (_SET_SIGNAL, SIGNALS[o["signal"]])):
                _check(lib.opus_encoder_ctl(vp, req, ctypes.c_int32(val)), f"encoder ctl {req}")
            if o["bandwidth"] != "auto":
                _check(lib.opus_encoder_ctl(vp, _SET_BANDWIDTH, ctypes.c_int32(BANDWIDTHS[o["bandwidth"]])),
                       "OPUS_SET_BANDWIDTH")
            self._enc = enc
        return self._enc

    def _decoder(self) -> int:
        if self._dec is None:
            lib, err = _lib(), ctypes.c_int()
            dec = lib.opus_decoder_create(self._rate, self._channels, ctypes.byref(err))
            _check(err.value, "opus_decoder_create")
            self._dec = dec
        return self._dec

    def __del__(self) -> None:
        try:
            lib = _lib()
            if self._enc is not None:
                lib.opus_encoder_destroy(ctypes.c_void_p(self._enc))
            if self._dec is not None:
                lib.opus_decoder_destroy(ctypes.c_void_p(self._dec))
        except Exception:
            pass

    # --- the work ---------------------------------------------------------------------------------------
    def encode(self, audio: np.ndarray) -> bytes:
        if audio.ndim != 2 or audio.shape[1] != self._channels:
            raise CodecError(f"opus: expected (frames, {self._channels}) audio, got shape {audio.shape}")
        lib, enc = _lib(), ctypes.c_void_p(self._encoder())
        n, f = audio.shape[0], self._frame
        n_frames = -(-n // f)
        x = np.zeros((n_frames * f, self._channels), dtype=np.float32)
        x[:n] = audio
        out = ctypes.create_string_buffer(MAX_PACKET)
        encode, base, step = lib.opus_encode_float, x.ctypes.data, f * self._channels * 4
        parts = []
        for i in range(n_frames):
            size = encode(enc, base + i * step, f, out, MAX_PACKET)
            _check(size, "opus_encode_float")
            parts.append(struct.pack(">H", size) + out.raw[:size])
        return b"".join(parts)

    def decode(self, payload: bytes) -> np.ndarray:
        lib, dec = _lib(), ctypes.c_void_p(self._decoder())
        max_frame = int(self._rate * 0.12)  # the longest Opus packet is 120 ms
        buf = np.empty((max_frame, self._channels), dtype=np.float32)
        chunks, pos, view = [], 0, memoryview(payload)
        decode = lib.opus_decode_float
        while pos < len(payload):
            (size,) = struct.unpack_from(">H", payload, pos)
            pos += 2
            if pos + size > len(payload):
                raise CodecError("opus: truncated payload (a packet runs past the end)")
            got = decode(dec, bytes(view[pos:pos + size]), size, buf.ctypes.data, max_frame, 0)
            _check(got, "opus_decode_float")
            chunks.append(buf[:got].copy())
            pos += size
        if not chunks:
            return np.zeros((0, self._channels), dtype=np.float32)
        return np.concatenate(chunks)
