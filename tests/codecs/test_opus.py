import numpy as np
import pytest

from harness.audio import estimate_lag
from harness.codecs import CodecError, UnsupportedBitrate, create_codec, transcode
from harness.codecs.opus import OpusCodec, libopus_version
from tests.conftest import speechlike, tone

pytestmark = pytest.mark.skipif(not OpusCodec.availability()[0], reason="libopus not installed")


def noise(seconds=2.0, sr=48000, seed=3):
    return (0.1 * np.random.default_rng(seed).standard_normal((int(sr * seconds), 1))).astype(np.float32)


def test_celt_output_is_sample_aligned():
    x = noise()
    c = create_codec("opus", kbps=64)
    assert c.delay_samples == 312  # OPUS_GET_LOOKAHEAD at 48 kHz
    r = transcode(c, x, 48000)
    assert r.audio.shape == x.shape and r.delay_removed_samples == 312
    assert estimate_lag(reference=x, degraded=r.audio, sample_rate=48000) == 0
    # without removing the lookahead the output would be 312 samples late: the check can fail
    raw = c.decode(c.encode(x))
    c.reset()
    assert estimate_lag(reference=x, degraded=raw[: len(x)], sample_rate=48000) == 312


@pytest.mark.parametrize("sr", [48000, 44100, 16000])
def test_low_rate_speech_aligned_within_a_fraction_of_a_ms(sr):
    x = speechlike(sr=sr, seconds=2.0)
    r = transcode(create_codec("opus", kbps=12), x, sr)
    lag = estimate_lag(reference=x, degraded=r.audio, sample_rate=sr)
    assert abs(lag) / sr < 0.25e-3  # SILK's internal resampler leaves a few samples; well under 1 ms


@pytest.mark.parametrize("kbps", [6, 12, 18, 64])
def test_cbr_measured_bitrate_matches_nominal(kbps):
    r = transcode(create_codec("opus", kbps=kbps, vbr=False), speechlike(seconds=3.0), 48000)
    assert r.measured_kbps == pytest.approx(kbps, rel=0.02)
    # payload_bits counts Opus packets only: our 2-byte length prefixes (one per 20 ms frame) are excluded
    frames = -(-(3 * 48000 + 312) // 960)
    assert r.payload_bytes * 8 - 16 * frames == pytest.approx(r.measured_kbps * 3000, abs=1)


def test_vbr_stays_near_nominal_and_quality_rises_with_bitrate():
    x = speechlike(seconds=3.0)

    def snr(kbps):
        y = transcode(create_codec("opus", kbps=kbps), x, 48000)
        err = np.sum((y.audio - x) ** 2)
        return 10 * np.log10(np.sum(x ** 2) / err), y.measured_kbps

    (s6, _), (s24, k24), (s64, _) = snr(6), snr(24), snr(64)
    assert 0.6 * 24 < k24 < 1.2 * 24
    assert s6 < s24 < s64


def test_options_and_settings():
    c = create_codec("opus", kbps=16, application="voip", frame_ms=10, complexity=5, bandwidth="wb", rate=16000,
                     channels=2)
    assert c.sample_rate == 16000 and c.channels == 2
    assert c.settings()["frame_ms"] == 10.0 and c.settings()["application"] == "voip"
    assert c.versions()["libopus"].startswith("libopus") and libopus_version() in c.versions().values()
    c = create_codec("opus", kbps=32, rate=16000, channels=2)  # stereo: each channel keeps its own content
    x = np.concatenate([tone(300, seconds=1.0), tone(900, seconds=1.0)], axis=1)
    r = transcode(c, x, 48000)
    assert r.audio.shape == x.shape
    assert np.corrcoef(r.audio[:, 0], x[:, 0])[0, 1] > 0.95 and np.corrcoef(r.audio[:, 1], x[:, 1])[0, 1] > 0.95
    assert abs(np.corrcoef(r.audio[:, 0], x[:, 1])[0, 1]) < 0.1


@pytest.mark.parametrize("bad", [{"frame_ms": 15}, {"application": "music"}, {"complexity": 11}, {"rate": 44100},
                                 {"bandwidth": "hd"}, {"vbr": "yes"}])
def test_bad_options(bad):
    with pytest.raises(CodecError):
        create_codec("opus", kbps=12, **bad)


def test_unsupported_bitrate_lists_nearest():
    with pytest.raises(UnsupportedBitrate, match=r"Nearest supported: 6"):
        create_codec("opus", kbps=3)


def test_truncated_payload_is_an_error():
    c = create_codec("opus", kbps=12)
    p = c.encode(speechlike(seconds=0.5))
    with pytest.raises(CodecError, match="truncated"):
        c.decode(p[:-5])


def test_plain_opuslib_still_works_after_the_adapter_ran():
    import opuslib

    create_codec("opus", kbps=12).encode(speechlike(seconds=0.1))  # sets prototypes on our private handle only
    enc, dec = opuslib.Encoder(48000, 1, "audio"), opuslib.Decoder(48000, 1)
    pcm = (speechlike(seconds=0.02)[:, 0] * 32767).astype("<i2").tobytes()
    assert len(dec.decode(enc.encode(pcm, 960), 960)) == 960 * 2
