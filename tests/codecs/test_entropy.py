"""The range coder over RVQ codes is lossless; the entropy-coded SoundStream gives back the plain one's codes and
audio from fewer bytes; its context model is tied to the checkpoint it was trained on."""

import numpy as np
import pytest

from harness.codecs import CodecError, CodecUnavailable, create_codec, get_codec_class, transcode
from harness.codecs.entropy.coder import decode_codes, encode_codes
from harness.codecs.entropy.context_model import NgramContextModel
from harness.codecs.packing import HEADER_SIZE
from harness.codecs.soundstream_ec import SHIPPED_CONTEXT_MODEL
from tests.conftest import speechlike


def _walk(rng, frames, levels, k=64, stay=0.7):
    """Codes in 0..k-1 that repeat or step a little, level by level: something a bigram can learn."""
    out = np.empty((frames, levels), np.int64)
    out[0] = rng.integers(0, k, levels)
    for t in range(1, frames):
        move = rng.random(levels) > stay
        out[t] = np.where(move, (out[t - 1] + rng.integers(-3, 4, levels)) % k, out[t - 1])
    return out


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(0)
    train = [_walk(rng, 400, 6) for _ in range(5)]
    return NgramContextModel.fit(train, checkpoint_sha256="0" * 64, recipe={"test": True})


@pytest.mark.parametrize("n_q", [1, 2, 6])
def test_coder_is_lossless_on_learnt_unseen_and_extreme_codes(small_model, n_q):
    rng = np.random.default_rng(n_q)
    for codes in (_walk(rng, 300, 6)[:, :n_q],  # like the training codes
                  rng.integers(0, 1024, (300, n_q)),  # uniform noise over all 1024 codes, mostly never seen
                  np.full((50, n_q), 1023), np.zeros((1, n_q), np.int64)):  # constant, single frame
        data = encode_codes(codes, small_model)
        assert len(data) % 4 == 0
        back = decode_codes(data, small_model, frames=codes.shape[0], n_q=n_q)
        assert np.array_equal(back, codes)


def test_coder_saves_on_predictable_codes_only(small_model):
    rng = np.random.default_rng(7)
    walk, noise = _walk(rng, 1000, 6), rng.integers(0, 64, (1000, 6))
    walk_bits, noise_bits = 8 * len(encode_codes(walk, small_model)), 8 * len(encode_codes(noise, small_model))
    assert walk_bits < 0.4 * walk.size * 10  # a learnt walk: under 4 bits a code
    assert walk_bits < 0.6 * noise_bits < 0.6 * 1.1 * noise.size * np.log2(1024)


def test_model_file_round_trip_and_checks(small_model, tmp_path):
    p = tmp_path / "m.ctx.npz"
    small_model.save(p)
    loaded = NgramContextModel.load(p)
    assert loaded.model_id == small_model.model_id and loaded.recipe == {"test": True}
    p2 = tmp_path / "other.npz"
    np.savez(p2, meta=np.frombuffer(b'{"format": "something/9"}', np.uint8), unigram=np.zeros(1),
             ctx_total=np.zeros(1), ctx_types=np.zeros(1), pairs=np.zeros(1))
    with pytest.raises(CodecUnavailable, match="this build reads"):
        NgramContextModel.load(p2)
    with pytest.raises(CodecUnavailable, match="train_entropy_model.py"):
        NgramContextModel.load(tmp_path / "missing.npz")


needs_model = pytest.mark.skipif(not SHIPPED_CONTEXT_MODEL.is_file(), reason="no shipped context model")


@needs_model
def test_soundstream_ec_gives_the_plain_codes_and_audio_from_fewer_bytes(shared):
    from harness.audio import read_audio, resample

    # a file held out from the context model's (and the checkpoint's) training data
    x, sr = read_audio(shared / "audio" / "speech" / "cmu-arctic-slt_a0009_female_16k.wav")
    x = resample(x[sr // 2: sr // 2 + 2 * sr], sr, 24000)
    plain, ec = create_codec("soundstream", kbps=6), create_codec("soundstream_ec", kbps=6)
    payload = ec.encode(x)
    codes, length = ec.unpack(payload)
    import torch

    with torch.inference_mode():
        ref = plain.model.encode(torch.from_numpy(x[:, 0])[None, None], 8, False)[0].T.numpy()
    assert length == x.shape[0] and np.array_equal(codes, ref)  # decoded exactly
    assert np.array_equal(ec.decode(payload), plain.decode(plain.encode(x))[: x.shape[0]])
    res = transcode(ec, x, 24000)
    assert res.measured_kbps == pytest.approx(8 * len(payload) / 2.0 / 1000)
    assert res.measured_kbps < 6.0  # real bytes, header, model id and CRC included (this clip: 5.88)
    assert res.settings["bitrate_convention"].startswith("entropy-coded")


@needs_model
def test_soundstream_ec_payload_errors():
    x = speechlike(sr=24000, seconds=0.5)
    ec6, ec3 = create_codec("soundstream_ec", kbps=6), create_codec("soundstream_ec", kbps=3)
    payload = ec6.encode(x)
    with pytest.raises(CodecError, match="3 kbps"):
        ec3.decode(payload)  # coded at 6 kbps (8 quantizers)
    with pytest.raises(CodecError, match="truncated|corrupt"):
        ec6.decode(payload[: HEADER_SIZE + 8 + 8])
    with pytest.raises(CodecError, match="CRC-32"):
        ec6.decode(payload[:-4] + bytes(b ^ 0x55 for b in payload[-4:]))
    with pytest.raises(CodecError, match="another context model"):
        ec6.decode(payload[:HEADER_SIZE] + b"\0\0\0\0" + payload[HEADER_SIZE + 4:])


@needs_model
def test_context_model_of_another_checkpoint_is_refused(tmp_path):
    other = NgramContextModel.load(SHIPPED_CONTEXT_MODEL)
    stale = NgramContextModel(unigram=other.unigram, ctx_total=other.ctx_total, ctx_types=other.ctx_types,
                              pairs=other.pairs, checkpoint_sha256="f" * 64, recipe={})
    stale.save(tmp_path / "stale.npz")
    ok, reason = get_codec_class("soundstream_ec").availability(context_model=str(tmp_path / "stale.npz"))
    assert not ok and "Retrain it" in reason and "ffffffffffffffff" in reason
    with pytest.raises(CodecUnavailable, match="train_entropy_model.py --checkpoint"):
        create_codec("soundstream_ec", kbps=3, context_model=str(tmp_path / "stale.npz"))


@needs_model
def test_cache_identity_follows_the_context_model_file(small_model, tmp_path):
    cls = get_codec_class("soundstream_ec")
    shipped = cls.cache_identity(kbps=6, options={})
    small_model.save(tmp_path / "m.npz")
    other = cls.cache_identity(kbps=6, options={"context_model": str(tmp_path / "m.npz")})
    assert shipped["versions"]["checkpoint_sha256"] == other["versions"]["checkpoint_sha256"]
    assert shipped["versions"]["context_model_file"] != other["versions"]["context_model_file"]
    assert cls.cache_identity(kbps=6, options={"context_model": str(tmp_path / "none.npz")}) is None


@needs_model
def test_shipped_context_model_provenance():
    from harness.codecs.soundstream import SHIPPED_CHECKPOINT
    from harness.codecs.soundstream.checkpoint import file_sha256

    m = NgramContextModel.load(SHIPPED_CONTEXT_MODEL)
    assert m.checkpoint_sha256 == file_sha256(SHIPPED_CHECKPOINT)
    assert m.levels == 24 and m.codebook_size == 1024
    assert "train_entropy_model.py" in m.recipe["command"] and m.recipe["frames"] > 100_000
    assert SHIPPED_CONTEXT_MODEL.stat().st_size < 2_000_000
