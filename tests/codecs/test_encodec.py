"""EnCodec adapters with seeded random weights (no trained weights are reachable here): shapes, exact bitrates,
determinism, payload-only decoding, and the real weight-loading path through a local save_pretrained folder."""

import numpy as np
import pytest

from harness.codecs import UnsupportedBitrate, create_codec, transcode
from harness.codecs.base import CodecError, CodecUnavailable
from harness.codecs.encodec import Encodec24, Encodec48, load_model
from tests.conftest import speechlike

LADDER = [1.5, 3, 6, 9, 12, 18]
pytestmark = pytest.mark.xdist_group("encodec")  # one worker builds the (per-process cached) models once


@pytest.fixture(autouse=True)
def _no_weights_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSHRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("MUSHRA_ENCODEC_DIR", raising=False)


@pytest.mark.parametrize("kbps,codebooks", [(1.5, 2), (3, 4), (6, 8), (12, 16), (24, 32)])
def test_24k_exact_bitrate_and_shapes(kbps, codebooks):
    codec = Encodec24(kbps=kbps, random_weights=True)
    assert codec.num_codebooks == codebooks
    x = speechlike(sr=24000, seconds=1.0)  # 75 frames
    r = transcode(codec, x, 24000)
    assert r.payload_bytes == -(-codebooks * 75 * 10 // 8)  # whole bytes: 187.5 -> 188 at 1.5 kbps
    assert r.measured_kbps == pytest.approx(8 * r.payload_bytes / 1000)
    assert r.measured_kbps == pytest.approx(kbps, abs=0.008)
    assert r.audio.shape == x.shape and r.delay_removed_samples == 0
    assert np.all(np.isfinite(r.audio))


def test_24k_deterministic_and_input_dependent():
    a = Encodec24(kbps=6, random_weights=True)
    x = speechlike(sr=24000, seconds=0.5, seed=1)
    p1 = a.encode(x)
    b = Encodec24(kbps=6, random_weights=True)  # same cached model, decodes from the payload alone
    assert b.encode(x) == p1
    np.testing.assert_array_equal(b.decode(p1), a.decode(p1))
    assert a.encode(speechlike(sr=24000, seconds=0.5, seed=2)) != p1
    assert len(set(np.frombuffer(p1, dtype=np.uint8))) > 20  # codes actually vary
    assert a.settings()["weights"] == "random (seed 0)"
    assert {"transformers", "torch", "weights"} <= set(a.versions())


def test_24k_rejects_bad_payload():
    codec = Encodec24(kbps=6, random_weights=True)
    with pytest.raises(CodecError, match="not a whole number"):
        codec.decode(b"\x00" * 7)


@pytest.mark.slow
def test_48k_segments_scale_and_bitrate():
    codec = Encodec48(kbps=6, random_weights=True)
    x = speechlike(sr=48000, seconds=1.2, channels=2)
    x[:, 1] *= 0.5
    payload = codec.encode(x)
    # segments start every 0.99 s (1 % overlap): offsets 0, 47520 -> 1 full + 1 short (10080 samples, 32 frames)
    full = 4 + 4 * 150 * 10 // 8
    assert len(payload) == full + 4 + 4 * 32 * 10 // 8
    r = transcode(codec, x, 48000)
    assert r.measured_kbps == pytest.approx(8 * len(payload) / 1.2 / 1000)
    assert 6.0 < r.measured_kbps < 6.5  # scales, the 1 % overlap and the partial last frame
    assert r.audio.shape == x.shape and np.all(np.isfinite(r.audio))
    y = Encodec48(kbps=6, random_weights=True).decode(payload)
    np.testing.assert_array_equal(y, codec.decode(payload))
    with pytest.raises(CodecError, match="segments"):
        codec.decode(payload[:-1])


def test_bitrate_points_and_ladder():
    assert Encodec24.bitrates.ladder_points(LADDER) == [1.5, 3, 6, 12]
    assert Encodec48.bitrates.ladder_points(LADDER) == [3, 6, 12]
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 12, 24"):
        Encodec24(kbps=18, random_weights=True)
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 3, 6"):
        Encodec48(kbps=1.5, random_weights=True)


def test_availability_without_weights():
    ok, reason = Encodec24.availability()
    assert not ok
    assert reason.startswith("weights not found at ")
    assert "mushra models fetch encodec_24khz" in reason and "MUSHRA_ENCODEC_DIR" in reason
    with pytest.raises(CodecUnavailable, match="mushra models fetch encodec_24khz"):
        Encodec24(kbps=6)
    with pytest.raises(CodecUnavailable, match="option weights"):
        Encodec24(kbps=6, weights="/no/such/folder")


@pytest.mark.slow
def test_loads_a_local_save_pretrained_folder(tmp_path, monkeypatch):
    model, _, _ = load_model("encodec_24khz", random_weights=True, seed=0)  # the per-process cached model
    folder = tmp_path / "weights" / "encodec_24khz"
    model.save_pretrained(folder)
    x = speechlike(sr=24000, seconds=0.5, seed=5)
    want = Encodec24(kbps=3, random_weights=True).encode(x)
    loaded = Encodec24(kbps=3, weights=str(folder))
    assert loaded.encode(x) == want  # same weights -> same codes through from_pretrained
    assert loaded.settings()["weights"] == str(folder)
    assert loaded.settings()["weights_id"].startswith("model.safetensors sha256:")
    # the environment variable and the registry path find it too, and availability() reports it
    monkeypatch.setenv("MUSHRA_ENCODEC_DIR", str(tmp_path / "weights"))
    assert Encodec24.availability() == (True, f"weights: {folder}")
    assert create_codec("encodec_24khz", kbps=3).encode(x) == want
    # the Hugging Face hub cache layout (models--facebook--encodec_24khz/snapshots/<commit>/...) is found offline
    monkeypatch.delenv("MUSHRA_ENCODEC_DIR")
    snap = tmp_path / "hf" / "models--facebook--encodec_24khz" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    for f in folder.iterdir():
        (snap / f.name).symlink_to(f)
    ok, reason = Encodec24.availability()
    assert ok and reason == "weights: facebook/encodec_24khz (Hugging Face cache)", reason
    assert create_codec("encodec_24khz", kbps=3).encode(x) == want
    # weights of the wrong model are refused
    with pytest.raises(CodecError, match="not encodec_48khz"):
        Encodec48(kbps=6, weights=str(folder))


def test_availability_with_condition_options():
    assert Encodec24.availability(random_weights=True) == (
        True, "random weights (seed 0): same compute, untrained")
    ok, reason = Encodec48.availability(weights="/no/such/folder")
    assert not ok and "/no/such/folder" in reason
