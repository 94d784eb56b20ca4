"""The ``soundstream`` adapter with a random-weight model: registry, bitrates, exact payload size, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.codecs import CodecError, CodecUnavailable, UnsupportedBitrate, codec_names, create_codec, transcode
from harness.codecs.packing import HEADER_SIZE, pack_header, unpack_codes
from harness.codecs.soundstream.checkpoint import save_generator
from harness.codecs.soundstream.model import PRESETS, SoundStream
from harness.codecs.soundstream.streaming import StreamingCodec
from tests.conftest import speechlike


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = SoundStream(dataclasses.replace(PRESETS["tiny"], n_q=24)).eval()
    path = tmp_path_factory.mktemp("ss") / "tiny.pt"
    save_generator(model, path, step=7, half=False)
    return path


def test_registered_with_the_bitrate_ladder(ckpt):
    assert "soundstream" in codec_names()
    from harness.codecs import get_codec_class

    spec = get_codec_class("soundstream").bitrates
    assert spec.ladder_points([1.5, 3, 4.5, 6, 9, 12, 18, 24]) == [1.5, 3, 4.5, 6, 9, 12, 18]
    assert spec.points == (1.5, 3, 4.5, 6, 7.5, 9, 10.5, 12, 13.5, 15, 16.5, 18)
    assert spec.supports(0.75) and spec.supports(17.25) and not spec.supports(2.0) and not spec.supports(18.75)
    assert create_codec("soundstream", kbps=0.75, checkpoint=str(ckpt)).n_q == 1


def test_payload_is_exactly_ten_bits_per_code(ckpt):
    codec = create_codec("soundstream", kbps=6, checkpoint=str(ckpt))
    assert codec.n_q == 8 and codec.sample_rate == 24000 and codec.delay_samples == 0
    audio = speechlike(sr=24000, seconds=1.0)  # 75 frames
    payload = codec.encode(audio)
    assert len(payload) == HEADER_SIZE + 75 * 8 * 10 // 8
    assert payload[:HEADER_SIZE] == pack_header(tag=0x53, version=1, n_q=8, length=24000)
    res = transcode(codec, audio, 24000)
    assert res.measured_kbps == pytest.approx(6.0 + HEADER_SIZE * 8 / 1000, abs=1e-9)  # the header counts
    assert res.audio.shape == audio.shape
    assert res.settings["n_q"] == 8 and res.settings["checkpoint"] == str(ckpt)
    assert res.versions["checkpoint_step"] == "7" and len(res.versions["checkpoint_sha256"]) == 64
    # 48 kHz input is resampled; the bitrate is still measured on the input duration
    res48 = transcode(create_codec("soundstream", kbps=1.5, checkpoint=str(ckpt)), speechlike(seconds=2.0), 48000)
    assert res48.payload_bytes == HEADER_SIZE + 150 * 20 // 8
    assert res48.measured_kbps == pytest.approx(1.5 + HEADER_SIZE * 8 / 2.0 / 1000, abs=1e-9)


def test_payload_is_frame_major_and_streamable(ckpt):
    codec = create_codec("soundstream", kbps=3, checkpoint=str(ckpt))
    audio = speechlike(sr=24000, seconds=0.4, seed=2)  # 30 frames
    payload = codec.encode(audio)
    codes = unpack_codes(payload[HEADER_SIZE:], 10, 30 * 4).reshape(30, 4)
    stream = StreamingCodec(codec.model, n_q=4)
    stream_codes, stream_out = stream.process(audio[:, 0])
    assert np.array_equal(codes.T, stream_codes)
    assert np.abs(codec.decode(payload)[:, 0] - stream_out).max() < 1e-5


def test_model_loaded_once_per_process(ckpt):
    a = create_codec("soundstream", kbps=3, checkpoint=str(ckpt))
    b = create_codec("soundstream", kbps=18, checkpoint=str(ckpt))
    assert a.model is b.model


def test_clear_errors(ckpt, tmp_path):
    with pytest.raises(UnsupportedBitrate, match="Nearest supported"):
        create_codec("soundstream", kbps=5, checkpoint=str(ckpt))
    with pytest.raises(CodecUnavailable, match="not found"):
        create_codec("soundstream", kbps=6, checkpoint=str(tmp_path / "missing.pt"))
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(CodecUnavailable, match="not a SoundStream checkpoint"):
        create_codec("soundstream", kbps=6, checkpoint=str(bad))
    with pytest.raises(CodecError, match="FiLM"):
        create_codec("soundstream", kbps=6, checkpoint=str(ckpt), denoise=True)
    with pytest.raises(CodecError, match="unknown option"):
        create_codec("soundstream", kbps=6, checkpoint=str(ckpt), bandwidth=3)
    with pytest.raises(CodecError, match="mono"):
        create_codec("soundstream", kbps=6, checkpoint=str(ckpt)).encode(np.zeros((320, 2), np.float32))


def test_decoded_length_is_the_encoded_length(ckpt):
    codec = create_codec("soundstream", kbps=3, checkpoint=str(ckpt))
    audio = speechlike(sr=24000, seconds=0.5, seed=3)[:11_111]  # not a whole number of 320-sample frames
    payload = codec.encode(audio)
    assert len(payload) == HEADER_SIZE + -(-35 * 4 * 10 // 8)  # 35 frames (the last one zero-padded)
    assert codec.decode(payload).shape == (11_111, 1)


def test_wrong_bitrate_truncated_and_foreign_payloads_are_errors(ckpt):
    audio = speechlike(sr=24000, seconds=0.4, seed=5)
    payload = create_codec("soundstream", kbps=6, checkpoint=str(ckpt)).encode(audio)
    with pytest.raises(CodecError, match=r"coded at 6 kbps \(n_q = 8\) but the decoder is set to 3 kbps"):
        create_codec("soundstream", kbps=3, checkpoint=str(ckpt)).decode(payload)
    six = create_codec("soundstream", kbps=6, checkpoint=str(ckpt))
    for cut in (1, 10, len(payload) // 2):
        with pytest.raises(CodecError, match="truncated"):
            six.decode(payload[:-cut])
    with pytest.raises(CodecError, match="truncated or empty"):
        six.decode(payload[:HEADER_SIZE - 1])
    with pytest.raises(CodecError, match="more than its header"):
        six.decode(payload + payload)
    with pytest.raises(CodecError, match="not a soundstream payload"):
        six.decode(b"\x00" + payload[1:])
    with pytest.raises(CodecError, match="format version 9"):
        six.decode(payload[:1] + b"\x09" + payload[2:])
    assert np.array_equal(six.decode(payload), six.decode(bytes(payload)))  # the intact payload still decodes


def test_streaming_option_codes_frame_by_frame_like_offline(ckpt):
    audio = speechlike(sr=24000, seconds=0.5, seed=8)[:11_000]
    offline = create_codec("soundstream", kbps=4.5, checkpoint=str(ckpt))
    stream = create_codec("soundstream", kbps=4.5, checkpoint=str(ckpt), streaming=True)
    payload = stream.encode(audio)
    assert payload == offline.encode(audio)
    out = stream.decode(payload)
    assert out.shape == (11_000, 1) and np.abs(out - offline.decode(payload)).max() < 1e-5
    assert stream.settings()["algorithmic_latency_samples"] == 320 and stream.settings()["streaming"] is True
    with pytest.raises(CodecError, match="streaming must be true or false"):
        create_codec("soundstream", kbps=6, checkpoint=str(ckpt), streaming="yes")
