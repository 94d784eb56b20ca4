"""SI-SNR / SI-SDR alignment: the lag estimator prepare uses, either polarity, no inflation of unrelated signals."""

import numpy as np
import pytest

from harness.analysis import metrics as M
from harness.audio import estimate_lag, read_audio
from tests.conftest import shared_dir

SR = 48000
MUSIC = shared_dir() / "audio" / "music" / "kevin-macleod_vibe-ace_cc-by_48k_stereo_20s.wav"


def _music(seconds=4.0):
    if not MUSIC.is_file():
        pytest.skip("shared music not available (set MUSHRA_SHARED)")
    x, sr = read_audio(MUSIC)
    assert sr == SR
    return x[SR: SR + int(seconds * SR)].mean(axis=1).astype(np.float32)


def test_opus_coded_music_is_aligned_like_prepare_aligns_it():
    from harness.codecs import create_codec, transcode
    from harness.codecs.opus import OpusCodec

    if not OpusCodec.availability()[0]:
        pytest.skip("libopus not installed")
    x = _music()
    y = transcode(create_codec("opus", kbps=24), x[:, None], SR).audio[:, 0]
    late = np.concatenate([np.zeros(480, np.float32), y])  # 10 ms late on top of the codec
    r = M.si_snr(reference=x, degraded=late, sample_rate=SR)
    want = estimate_lag(reference=x, degraded=late, sample_rate=SR, max_lag_ms=100)
    assert r.settings["lag_samples"] == want and abs(want - 480) <= 2
    at_truth = M.si_snr(reference=x, degraded=y, sample_rate=SR, max_lag_ms=0)
    assert r.value == pytest.approx(at_truth.value, abs=0.3) and r.value > 3
    assert r.settings["polarity"] == "normal" and r.settings["lag_search"] == "accepted"


def test_inverted_polarity_is_aligned_and_reported():
    x = _music(2.0)
    rng = np.random.default_rng(0)
    y = -np.concatenate([np.zeros(96), x])[: len(x)] + 0.01 * rng.standard_normal(len(x))
    r = M.si_sdr(reference=x, degraded=y, sample_rate=SR)
    upright = M.si_sdr(reference=x, degraded=-y, sample_rate=SR)
    assert r.settings["lag_samples"] == 96 and r.settings["polarity"] == "inverted"
    assert r.value == pytest.approx(upright.value, abs=1e-9) and r.value > 10


@pytest.mark.parametrize("seconds", [0.1, 1.0, 4.0])
def test_noise_output_scores_far_below_zero(seconds):
    x = _music(seconds)
    noise = np.random.default_rng(1).standard_normal(len(x)).astype(np.float32) * float(np.std(x))
    for metric in (M.si_snr, M.si_sdr):
        r = metric(reference=x, degraded=noise, sample_rate=SR, max_lag_ms=100)
        assert r.value < -15, (seconds, r.value, r.settings)
    r = M.si_snr(reference=x, degraded=noise, sample_rate=SR, max_lag_ms=100)
    assert r.settings["lag_search"].startswith("rejected") and r.settings["lag_samples"] == 0
