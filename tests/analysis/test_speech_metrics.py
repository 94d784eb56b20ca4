"""PESQ (wide/narrow band), STOI/ESTOI and DNSMOS: equal to their reference packages, domains enforced, a failing
cell reported for that cell only."""

import os
import socket
from pathlib import Path

import numpy as np
import pytest

from harness.analysis import metrics as M
from harness.audio import read_audio

SHARED = Path(os.environ.get("MUSHRA_SHARED", Path(__file__).resolve().parents[3] / "shared"))
SPEECH = SHARED / "audio" / "speech" / "cmu-arctic_a0007_male_16k.wav"
needs_speech = pytest.mark.skipif(not SPEECH.exists(), reason=f"{SPEECH} missing (set MUSHRA_SHARED)")


@pytest.fixture(scope="module")
def speech():
    x, sr = read_audio(SPEECH)
    assert sr == 16000
    x = x[:, 0].astype(np.float64)
    noisy = x + 0.02 * np.random.default_rng(0).standard_normal(x.size)
    return x, noisy


@needs_speech
def test_pesq_wb_nb_equal_the_itu_code_and_fall_with_noise(speech):
    import pesq
    import soxr

    x, noisy = speech
    wb = M.compute("pesq", reference=x, degraded=noisy, sample_rate=16000, content="speech")
    assert wb.value == pesq.pesq(16000, x, noisy, "wb") and wb.settings["resampler"] == "none"
    more = M.compute("pesq", reference=x, degraded=x + 4 * (noisy - x), sample_rate=16000)
    assert 1.0 < more.value < wb.value < 4.7
    nb = M.compute("pesq-nb", reference=x, degraded=noisy, sample_rate=16000)
    x8, n8 = soxr.resample(x, 16000, 8000, "VHQ"), soxr.resample(noisy, 16000, 8000, "VHQ")
    assert nb.value == pytest.approx(pesq.pesq(8000, x8, n8, "nb"), abs=1e-9)
    assert nb.settings["mode"] == "nb" and nb.settings["resampler"] == "soxr VHQ"


@needs_speech
def test_stoi_and_estoi_equal_pystoi_and_alignment_undoes_a_delay(speech):
    from pystoi import stoi

    x, noisy = speech
    for name, ext in (("stoi", False), ("estoi", True)):
        r = M.compute(name, reference=x, degraded=noisy, sample_rate=16000, max_lag_ms=0)
        assert r.value == pytest.approx(stoi(x, noisy, 16000, extended=ext), abs=1e-12)
    delayed = np.concatenate([np.zeros(480), noisy])[: noisy.size]
    a = M.compute("stoi", reference=x, degraded=delayed, sample_rate=16000)
    assert a.settings["lag_samples"] == 480
    assert a.value > M.compute("stoi", reference=x, degraded=delayed, sample_rate=16000, max_lag_ms=0).value + 0.05


def test_domains_are_enforced_with_clear_errors():
    x = np.random.default_rng(1).standard_normal(16000) * 0.1
    with pytest.raises(M.MetricError, match="needs input sampled at >= 16000 Hz.*pesq-nb"):
        M.compute("pesq", reference=x, degraded=x, sample_rate=8000)
    with pytest.raises(M.MetricError, match="defined for speech / mixed.*not music.*visqol-audio"):
        M.compute("stoi", reference=x, degraded=x, sample_rate=16000, content="music")
    with pytest.raises(M.MetricError, match="needs input sampled at >= 16000"):
        M.compute("dnsmos", reference=None, degraded=x, sample_rate=8000)
    with pytest.raises(M.MetricError, match="pass reference="):
        M.compute("pesq", reference=None, degraded=x, sample_rate=16000)
    from harness.analysis.metric_domains import content_of

    assert [content_of(c) for c in ("speech", "tts", "music", "mixed", "Noisy speech", "misc")] == [
        "speech", "speech", "music", "mixed", "mixed", "unknown"]


@needs_speech
@pytest.mark.slow
def test_dnsmos_runs_offline_from_the_wheel(speech, monkeypatch):
    import speechmos

    models = Path(speechmos.__file__).parent / "dnsmos_models"
    assert (models / "sig_bak_ovr.onnx").stat().st_size > 100_000 and (models / "model_v8.onnx").exists()

    def no_network(*a, **k):
        raise AssertionError("DNSMOS tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    x, noisy = speech
    clean = M.compute("dnsmos", reference=None, degraded=0.5 * x, sample_rate=16000, content="speech")
    worse = M.compute("dnsmos", reference=None, degraded=0.5 * x + 5 * (noisy - x), sample_rate=16000)
    assert 1.0 <= worse.value < clean.value <= 5.0
    assert {"sig", "bak", "p808"} <= set(clean.settings) and clean.unit.startswith("MOS")


@needs_speech
@pytest.mark.slow
def test_evaluate_cli_pesq_stoi_dnsmos(tmp_path, capsys):
    """The documented command: `mushra evaluate --metric pesq --metric stoi --metric dnsmos` on a speech item."""
    import shutil

    from harness.cli import main

    items = tmp_path / "items" / "speech"
    items.mkdir(parents=True)
    shutil.copy(SPEECH, items / SPEECH.name)
    rc = main(["evaluate", "--items", str(tmp_path / "items"), "--codec", "opus", "--kbps", "12", "--metric",
               "pesq", "--metric", "stoi", "--metric", "dnsmos", "--out", str(tmp_path / "o"), "--jobs", "1",
               "--quiet"])
    assert rc == 0, capsys.readouterr().err
    from harness.analysis.results import read_results

    rows, _ = read_results(tmp_path / "o" / "evaluation.json")
    v = rows.set_index("metric")["value"]
    assert 2.0 < v["pesq"] < 4.6 and 0.8 < v["stoi"] <= 1.0 and 1.0 < v["dnsmos"] < 5.0
    assert (rows["error"] == "").all()
