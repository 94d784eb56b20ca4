"""The checkpoint shipped in the package: loads through the registry, is small, codes aligned audio, and its
quality (SI-SNR, log-mel distance) rises with the number of quantizers on a generated signal."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.metrics import mel_distance, si_snr
from harness.codecs import create_codec, transcode
from harness.codecs.packing import HEADER_SIZE
from harness.codecs.soundstream.adapter import SHIPPED_CHECKPOINT
from tests.conftest import speechlike

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return speechlike(sr=24000, seconds=2.0, seed=4)


def test_shipped_checkpoint_is_there_and_small():
    assert SHIPPED_CHECKPOINT.is_file()
    assert SHIPPED_CHECKPOINT.stat().st_size <= 20 * 2**20
    codec = create_codec("soundstream", kbps=6)  # default checkpoint
    cfg = codec.model.cfg
    assert (cfg.n_q, cfg.codebook_size, cfg.strides, cfg.sample_rate) == (24, 1024, (2, 4, 5, 8), 24000)
    assert int(codec.versions()["checkpoint_step"]) > 0
    assert codec.settings()["checkpoint"] == "shipped"


def test_latent_error_falls_with_quantizers(signal):
    import torch

    model = create_codec("soundstream", kbps=18).model
    with torch.inference_mode():
        z = model.embed(torch.from_numpy(signal[:, 0])[None, None])
        errs = [float((model.quantizer.decode(model.quantizer.encode(z, n)) - z).pow(2).mean())
                for n in (2, 4, 8, 16, 24)]
    assert all(b < a for a, b in zip(errs, errs[1:])), errs


def test_quality_rises_with_bitrate(signal):
    """On a generated speech-like signal the shipped model's SI-SNR rises and its log-mel distance falls from
    1.5 to 6 to 18 kbps, the 18 kbps point clearly (>= 1 dB) above 1.5 kbps, and the waveform is kept (positive
    SI-SNR at 6 kbps; the checkpoint before the SNR-trained one read about -40 dB)."""
    snr, dists = {}, {}
    for kbps in (1.5, 6, 18):
        res = transcode(create_codec("soundstream", kbps=kbps), signal, 24000)
        assert res.measured_kbps == pytest.approx(kbps + HEADER_SIZE * 8 / 2.0 / 1000, abs=1e-9)  # 2 s
        assert np.all(np.isfinite(res.audio))
        snr[kbps] = si_snr(reference=signal, degraded=res.audio, sample_rate=24000, max_lag_ms=0).value
        dists[kbps] = mel_distance(reference=signal, degraded=res.audio, sample_rate=24000, max_lag_ms=0).value
    assert snr[1.5] < snr[6] < snr[18] and snr[18] >= snr[1.5] + 1.0, snr
    assert snr[6] > 0.0, snr
    assert dists[18] < dists[6] < dists[1.5], dists
