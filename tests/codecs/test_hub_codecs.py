"""DAC and Mimi through transformers (random weights here): bitrates, payload round trips, weight discovery."""

import json

import numpy as np
import pytest

from harness.codecs import CodecError, CodecUnavailable, UnsupportedBitrate, create_codec, get_codec_class
from harness.codecs.hub_models import find_weights
from harness.codecs.packing import unpack_codes
from tests.conftest import speechlike

LADDER = [1.5, 3, 6, 9, 12, 18]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """DAC's 1536-channel decoder runs about 10x slower with 2 threads on a loaded 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_bitrate_grids_are_exact():
    dac24, dac16, dac44, mimi = (get_codec_class(n) for n in ("dac_24khz", "dac_16khz", "dac_44khz", "mimi"))
    assert dac24.bitrates.ladder_points(LADDER) == LADDER  # 0.75 kbps per codebook, up to 24
    assert dac16.bitrates.ladder_points(LADDER) == [1.5, 3, 6]  # 0.5 kbps per codebook, up to 6
    assert dac44.bitrates.ladder_points(LADDER) == []  # 0.8613 kbps per codebook
    assert dac44.bitrates.codebooks(1.72) == 2 and dac44.bitrates.codebooks(7.75) == 9
    assert mimi.bitrates.ladder_points(LADDER) == []
    assert mimi.bitrates.codebooks(1.1) == 8 and mimi.bitrates.codebooks(4.4) == 32
    assert mimi.bitrates.nearest(1.5) == [1.375, 1.5125]
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 1.375, 1.5125"):
        mimi.bitrates.check("mimi", 1.5)
    assert "0.1375 kbps per codebook" in mimi.bitrates.describe()


@pytest.mark.parametrize("name,kbps,bits", [("dac_16khz", 1.5, 10), ("mimi", 1.1, 11)])
def test_round_trip_from_bytes(name, kbps, bits):
    c = create_codec(name, kbps=kbps, random_weights=True)
    rate = c.sample_rate
    x = speechlike(sr=rate, seconds=0.48)
    payload = c.encode(x)
    frames = -(-x.shape[0] // c.hop)
    assert len(payload) == -(-frames * c.num_codebooks * bits // 8)  # packed codes: the exact rate
    codes = unpack_codes(payload, bits, frames * c.num_codebooks).reshape(frames, c.num_codebooks)
    assert len(np.unique(codes)) > 3  # the codes carry information even untrained
    y = c.decode(bytes(payload))
    assert y.dtype == np.float32 and y.shape[1] == 1 and abs(y.shape[0] - frames * c.hop) <= 8
    assert np.array_equal(y, c.decode(payload))
    with pytest.raises(CodecError, match="not a whole number"):
        c.decode(payload[:-1] if len(payload) % 2 else payload + b"\0" * 3)
    s = c.settings()
    assert s["weights"] == "random (seed 0)" and s["code_bits"] == bits
    assert s["frame_rate_hz"] == rate / c.hop


def test_weights_are_discovered_like_encodec(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSHRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MUSHRA_DAC_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(CodecUnavailable, match="mushra models fetch dac_24khz"):
        find_weights("dac_24khz")
    ok, reason = get_codec_class("dac_24khz").availability()
    assert not ok and "random_weights=true" in reason
    folder = tmp_path / "dacs" / "dac_24khz"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "dac"}))
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.setenv("MUSHRA_DAC_DIR", str(tmp_path / "dacs"))
    assert find_weights("dac_24khz") == (str(folder), folder)
    with pytest.raises(CodecUnavailable, match="option weights"):
        find_weights("mimi", tmp_path / "nowhere")


def test_unknown_option_is_named():
    with pytest.raises(CodecError, match="unknown option"):
        create_codec("mimi", kbps=1.1, random_weights=True, bandwidth=6)
