"""Streaming (frame by frame, cached convolution state) equals offline; latency is one frame (320 samples)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from harness.codecs.soundstream.model import PRESETS, SoundStream
from harness.codecs.soundstream.streaming import (ALGORITHMIC_LATENCY_SAMPLES, StreamingCodec,
                                                  algorithmic_latency)


@pytest.fixture(scope="module")
def model() -> SoundStream:
    torch.manual_seed(0)
    cfg = dataclasses.replace(PRESETS["tiny"], channels=4, film=True)
    return SoundStream(cfg).eval()


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(320 * 30) / 24000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _offline(model, x, n_q, denoise=False):
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(x)[None, None], n_q, denoise)
        return codes[0].numpy(), model.decode(codes, denoise)[0, 0].numpy()


@pytest.mark.parametrize("n_q,denoise", [(8, False), (3, True)])
def test_numpy_streaming_equals_offline(model, signal, n_q, denoise):
    codes_off, y_off = _offline(model, signal, n_q, denoise)
    codec = StreamingCodec(model, n_q=n_q, denoise=denoise)
    codes, y = codec.process(signal)
    assert np.array_equal(codes, codes_off)
    assert np.abs(y_off).max() > 1e-3  # a non-trivial output
    assert np.abs(y - y_off).max() < 1e-5
    codec.reset()  # a second signal after reset gives the same again
    assert np.abs(codec.process(signal)[1] - y_off).max() < 1e-5


def test_torch_streaming_mode_equals_offline(model, signal):
    signal = signal[: 320 * 12]
    codes_off, y_off = _offline(model, signal, 8)
    m = SoundStream(model.cfg).eval()
    m.load_state_dict(model.state_dict())
    m.set_streaming(True)
    with torch.no_grad():
        frames = torch.from_numpy(signal).reshape(-1, 320)
        codes = [m.encode(f[None, None], 8) for f in frames]
        y = torch.cat([m.decode(c) for c in codes], dim=-1)[0, 0].numpy()
    m.set_streaming(False)
    assert np.array_equal(torch.cat(codes, -1)[0].numpy(), codes_off)
    assert np.abs(y - y_off).max() < 1e-5


def test_latency_is_one_frame(model, signal):
    assert ALGORITHMIC_LATENCY_SAMPLES == 320
    samples, ms = algorithmic_latency(model)
    assert samples == 320 and ms == pytest.approx(13.333, abs=1e-3)
    codec = StreamingCodec(model, n_q=8)
    assert codec.latency_samples == 320
    # each 320-sample frame in gives that frame's 320 samples out, immediately
    assert codec.decode_frame(codec.encode_frame(signal[:320])).shape == (320,)
    t = 10
    x = torch.from_numpy(signal)[None, None]
    with torch.no_grad():
        z = model.embed(x)
        y = model.synth(z)
        # encoder: latent frame t depends on input samples up to 320*t + 319 and on none after
        x2 = x.clone()
        x2[..., 320 * t + 319] += 0.5
        z2 = model.embed(x2)
        assert torch.equal(z2[..., :t], z[..., :t]) and not torch.equal(z2[..., t], z[..., t])
        x3 = x.clone()
        x3[..., 320 * (t + 1)] += 0.5
        assert torch.equal(model.embed(x3)[..., : t + 1], z[..., : t + 1])
        # decoder: latent frame t changes output samples from 320*t on, none before
        z4 = z.clone()
        z4[..., t] += 0.5
        y4 = model.synth(z4)
        assert torch.equal(y4[..., : 320 * t], y[..., : 320 * t]) and y4[0, 0, 320 * t] != y[0, 0, 320 * t]
    # so output sample 320*t waits for input sample 320*t + 319: the latency is exactly one frame


def test_frame_size_is_checked(model):
    with pytest.raises(ValueError):
        StreamingCodec(model, n_q=8).encode_frame(np.zeros(100, np.float32))
    with pytest.raises(ValueError):
        StreamingCodec(model, n_q=99)
