import math

import numpy as np
import pytest

from harness.analysis import metrics as M
from tests.analysis.helpers import harmonic, lowpass

SR = 48000


@pytest.fixture(scope="module")
def ref():
    return harmonic(SR, 3.0)


def test_si_snr_scaled_copy_is_infinite_and_positive_convention(ref):
    r = M.si_snr(reference=ref, degraded=0.5 * ref, sample_rate=SR)
    assert r.value == math.inf or r.value > 100
    assert r.unit == "dB" and r.settings["sign"].startswith("positive")


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_si_sdr_known_noise_level(snr_db):
    rng = np.random.default_rng(3)
    s = rng.standard_normal(48000)
    n = rng.standard_normal(48000)
    n -= s * (n @ s) / (s @ s)  # orthogonal to s: SI-SDR is exactly the SNR
    n *= np.linalg.norm(s) / np.linalg.norm(n) * 10 ** (-snr_db / 20)
    r = M.si_sdr(reference=s, degraded=s + n, sample_rate=SR, max_lag_ms=0)
    assert r.value == pytest.approx(snr_db, abs=1e-9)
    # scaling the estimate does not change it
    assert M.si_sdr(reference=s, degraded=3 * (s + n), sample_rate=SR, max_lag_ms=0).value == pytest.approx(snr_db)


def test_si_snr_removes_mean_si_sdr_does_not(ref):
    rng = np.random.default_rng(0)
    deg = ref[:, 0] + 0.01 * rng.standard_normal(ref.shape[0]) + 0.2  # DC offset
    snr = M.si_snr(reference=ref, degraded=deg, sample_rate=SR).value
    sdr = M.si_sdr(reference=ref, degraded=deg, sample_rate=SR).value
    assert snr > sdr + 5


def test_delayed_copy_is_aligned_and_lag_recorded(ref):
    rng = np.random.default_rng(1)
    noisy = ref[:, 0] + 0.003 * rng.standard_normal(ref.shape[0])
    delayed = np.concatenate([np.zeros(240), noisy])[: ref.shape[0]]
    aligned = M.si_snr(reference=ref, degraded=delayed, sample_rate=SR)
    direct = M.si_snr(reference=ref, degraded=noisy, sample_rate=SR)
    assert aligned.settings["lag_samples"] == 240
    assert aligned.value == pytest.approx(direct.value, abs=0.1)
    unaligned = M.si_snr(reference=ref, degraded=delayed, sample_rate=SR, max_lag_ms=0)
    assert unaligned.value < aligned.value - 10
    # degraded leading the reference gives a negative lag
    early = np.concatenate([noisy[100:], np.zeros(100)])
    assert M.si_snr(reference=ref, degraded=early, sample_rate=SR).settings["lag_samples"] == -100


def test_si_snr_monotonic_in_noise(ref):
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(ref.shape[0])
    vals = [M.si_snr(reference=ref, degraded=ref[:, 0] + a * noise, sample_rate=SR).value for a in (0.001, 0.01, 0.1)]
    assert vals[0] > vals[1] > vals[2]


def test_keyword_only_and_input_errors(ref):
    with pytest.raises(TypeError):
        M.si_snr(ref, ref, SR)  # noqa
    with pytest.raises(M.MetricError):
        M.si_snr(reference=np.zeros(1000), degraded=ref, sample_rate=SR)
    with pytest.raises(M.MetricError):
        M.si_snr(reference=ref, degraded=ref, sample_rate=0)
    with pytest.raises(M.MetricError, match="unknown metric"):
        M.compute("snr-ish", reference=ref, degraded=ref, sample_rate=SR)


def test_mel_distance_identity_and_monotonic(ref):
    assert M.mel_distance(reference=ref, degraded=ref, sample_rate=SR).value == 0.0
    d1 = M.mel_distance(reference=ref, degraded=lowpass(ref, SR, 7000), sample_rate=SR)
    d2 = M.mel_distance(reference=ref, degraded=lowpass(ref, SR, 3500), sample_rate=SR)
    assert 0 < d1.value < d2.value
    assert d1.settings["n_fft"] == [512, 1024, 2048] and d1.settings["sample_rate"] == 24000


def test_visqol_identity(ref):
    a = M.visqol_audio(reference=ref, degraded=ref, sample_rate=SR)
    assert a.value > 4.6 and a.unit == "MOS-LQO"
    assert a.settings["mode"] == "audio" and a.settings["mapper"] == "svr" and a.settings["sample_rate"] == 48000
    s = M.visqol_speech(reference=ref, degraded=ref, sample_rate=SR)
    assert s.value > 4.3
    assert s.settings["use_lattice_model"] is True and s.settings["mapper"] == "lattice"
    assert s.settings["resampler"] == "soxr VHQ" and s.settings["sample_rate"] == 16000


# Golden values measured with visqol-python 3.8.0 on this generated audio (see docs/analysis.md).
GOLDEN = {("visqol-audio", "lp4k"): 1.5150, ("visqol-speech", "lp4k"): 2.5089,
          ("visqol-audio", "noise"): 3.3323, ("visqol-speech", "noise"): 2.3692}


@pytest.mark.parametrize("metric,degradation", sorted(GOLDEN))
def test_visqol_golden(ref, metric, degradation):
    if degradation == "lp4k":
        deg = lowpass(ref, SR, 4000)
    else:
        deg = ref + (0.003 * np.random.default_rng(7).standard_normal(ref.shape)).astype(np.float32)
    r = M.compute(metric, reference=ref, degraded=deg, sample_rate=SR)
    assert r.value == pytest.approx(GOLDEN[(metric, degradation)], abs=0.05)


def test_visqol_matches_direct_api_and_order_is_passed_through(ref):
    from visqol import VisqolApi

    deg = lowpass(ref, SR, 4000)
    api = VisqolApi()
    api.create(mode="audio")
    direct = api.measure_from_arrays(ref[:, 0].astype(np.float64), deg[:, 0].astype(np.float64), SR).moslqo
    ours = M.visqol_audio(reference=ref, degraded=deg, sample_rate=SR).value
    assert ours == pytest.approx(direct, abs=1e-6)
    swapped = M.visqol_speech(reference=deg, degraded=ref, sample_rate=SR).value
    normal = M.visqol_speech(reference=ref, degraded=deg, sample_rate=SR).value
    assert abs(swapped - normal) > 0.05


def test_visqol_speech_exponential_mapper_is_recorded(ref):
    deg = lowpass(ref, SR, 4000)
    e = M.visqol_speech(reference=ref, degraded=deg, sample_rate=SR, use_lattice_model=False)
    lat = M.visqol_speech(reference=ref, degraded=deg, sample_rate=SR, use_lattice_model=True)
    assert e.settings["mapper"] == "exponential" and e.settings["use_lattice_model"] is False
    assert e.value != lat.value
    with pytest.raises(M.MetricError):
        M.visqol_speech(reference=ref, degraded=deg, sample_rate=SR, use_lattice_model=None)


def test_optional_metrics_say_how_to_install(ref):
    for name, pkg in (("pesq", "pesq"), ("stoi", "pystoi")):
        try:
            __import__(pkg)
        except ImportError:
            with pytest.raises(M.MetricError, match=f"pip install {pkg}"):
                M.compute(name, reference=ref, degraded=ref, sample_rate=SR)
