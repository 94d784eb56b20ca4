"""Codec 2 and LC3: round trips from bytes, exact measured bitrates, delays, and clear errors."""

import numpy as np
import pytest

from harness.analysis.metrics import si_snr
from harness.audio import estimate_lag, read_audio, resample
from harness.codecs import CodecError, UnsupportedBitrate, create_codec, get_codec_class, transcode
from harness.codecs.codec2 import DELAY_SAMPLES, MODES
from harness.codecs.lc3 import frame_sizes
from tests.conftest import speechlike

codec2_ok = get_codec_class("codec2").availability()[0]
needs_codec2 = pytest.mark.skipif(not codec2_ok, reason="Debian codec2 (c2enc/c2dec) not installed")


@needs_codec2
@pytest.mark.parametrize("kbps", [3.2, 2.4, 1.6, 1.4, 1.3, 1.2, 0.7, 0.45])
def test_codec2_round_trip_from_bytes(kbps):
    c = create_codec("codec2", kbps=kbps)
    bits, samples = MODES[c.mode]
    x = speechlike(sr=8000, seconds=1.0)
    payload = c.encode(x)
    frames = -(-8000 // samples)
    assert len(payload) == -(-frames * bits // 8)  # the frames' bits, densely packed: the codec's own rate
    y = c.decode(bytes(payload))
    assert y.shape == (frames * samples, 1) and y.dtype == np.float32
    assert np.array_equal(y, c.decode(payload))  # the bytes alone determine the output
    assert np.sqrt(np.mean(y ** 2)) > 0.01  # speech comes out, not silence
    with pytest.raises(CodecError, match="not a whole number"):
        c.decode(payload[:-3] if bits % 8 == 0 else payload + b"\0\0\0\0\0\0\0\0")


@needs_codec2
def test_codec2_measured_rate_and_delay_on_speech(speech_file):
    x, sr = read_audio(speech_file)
    x = x[: 3 * sr]
    res = transcode(create_codec("codec2", kbps=1.3), x, sr)
    # 52-bit frames, padding bits not stored (c2enc writes 56): exact up to the last frame (3 s + delay padding)
    assert 1.3 <= res.measured_kbps < 1.3 * (1 + 2 / 75)
    assert res.delay_removed_samples == DELAY_SAMPLES["1300"]
    assert res.settings["bitrate_convention"].startswith("codec frames")

    def env(a):  # log energy envelope, 1 ms steps: a vocoder keeps it, not the waveform
        a8 = resample(a, sr, 8000)[:, 0].astype(np.float64)
        e = np.convolve(a8 ** 2, np.ones(64) / 64, mode="same")[::8]
        return np.log(e + 1e-8) - np.log(e + 1e-8).mean()

    a, b = env(x), env(res.audio)
    lags = list(range(-20, 21))
    cc = [np.dot(a[max(0, -k):len(a) - max(0, k)], b[max(0, k):len(b) - max(0, -k)]) for k in lags]
    assert abs(lags[int(np.argmax(cc))]) <= 5  # within 5 ms (uncompensated: 15-18 ms); spread across files +-3 ms


def test_codec2_refuses_other_rates_and_options():
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 1.4, 1.6"):
        get_codec_class("codec2").bitrates.check("codec2", 1.5)
    if codec2_ok:
        with pytest.raises(CodecError, match="unknown option"):
            create_codec("codec2", kbps=3.2, mode="3200")


def test_lc3_frame_schedule_is_exact():
    sizes = frame_sizes(18.0, 10.0, 100)
    assert set(sizes) == {22, 23} and sizes.sum() == 2250  # 18 kbps x 1 s / 8
    assert frame_sizes(16.0, 10.0, 7).tolist() == [20] * 7
    for n in (1, 7, 99, 1000):
        assert frame_sizes(18.0, 10.0, n).sum() == int(np.floor(22.5 * n + 1e-9))


@pytest.mark.parametrize("kbps", [16, 18, 32, 64, 124])
def test_lc3_round_trip_from_bytes_at_exact_rate(kbps):
    x = speechlike(sr=48000, seconds=1.0)
    c = create_codec("lc3", kbps=kbps)
    res = transcode(c, x, 48000)
    step = c.sample_rate // 100  # 10 ms frames
    frames = -(-(c.sample_rate + c.delay_samples) // step)  # 1 s + the delay padding, whole frames
    assert res.measured_kbps == pytest.approx(frame_sizes(kbps, 10.0, frames).sum() * 8 / 1000, abs=1e-9)
    assert kbps <= res.measured_kbps <= kbps * (frames * 0.01)  # exact up to the last frame
    xc = resample(x, 48000, c.sample_rate)
    c.reset()
    payload = c.encode(xc)
    c.reset()
    y = c.decode(bytes(payload))
    assert y.shape == (-(-xc.shape[0] // step) * step, 1)
    assert len(payload) == frame_sizes(kbps, 10.0, y.shape[0] // step).sum()
    with pytest.raises(CodecError, match="not a whole number of frames"):
        c.decode(payload[:-1])


def test_lc3_on_speech_is_aligned_and_rises_with_bitrate(speech_file):
    x, sr = read_audio(speech_file)
    x = x[: 3 * sr]
    scores = []
    for kbps in (16, 32, 64):
        res = transcode(create_codec("lc3", kbps=kbps), x, sr)
        assert estimate_lag(reference=x, degraded=res.audio, sample_rate=sr) == 0
        scores.append(si_snr(reference=x, degraded=res.audio, sample_rate=sr).value)
    assert scores[0] > 5 and scores[0] < scores[1] < scores[2], scores


def test_lc3_checks_options():
    with pytest.raises(UnsupportedBitrate):
        create_codec("lc3", kbps=12)  # LC3's floor is 20 bytes per 10 ms frame = 16 kbps
    with pytest.raises(CodecError, match="rate must be one of"):
        create_codec("lc3", kbps=32, rate=44100)
    with pytest.raises(CodecError, match="allows 20-400"):
        create_codec("lc3", kbps=16, frame_ms=7.5)
