"""Training data: resampled float16 cache, excerpts, gain and noise augmentation with the denoise flag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from harness.codecs.soundstream.data import AudioCorpus, DataError, make_batch
from harness.codecs.soundstream.train import TrainConfig, train
from tests.conftest import speechlike


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    sf.write(str(d / "a.wav"), speechlike(sr=16000, seconds=1.0, channels=2), 16000)
    sf.write(str(d / "sub" / "b.flac"), speechlike(sr=48000, seconds=0.5, seed=3), 48000)
    (d / "notes.txt").write_text("not audio")
    return d


def test_corpus_resamples_and_caches(folder, tmp_path):
    c = AudioCorpus([folder], cache_dir=tmp_path / "cache")
    assert len(c.files) == 2 and c.audio.dtype == np.float16
    assert c.seconds == pytest.approx(1.5, abs=1e-3)
    assert c.bounds[0] == (0, 24000)
    c2 = AudioCorpus([folder], cache_dir=tmp_path / "cache")  # from the cache (memory-mapped)
    assert isinstance(c2.audio, np.memmap) and np.array_equal(np.asarray(c2.audio), c.audio)
    with pytest.raises(DataError, match="no audio files"):
        AudioCorpus([tmp_path / "cache"])
    with pytest.raises(DataError, match="not a folder"):
        AudioCorpus([tmp_path / "missing"])


def test_batches_gain_and_denoise_targets(folder):
    c = AudioCorpus([folder])
    rng = np.random.default_rng(0)
    x, y, flags = make_batch(c, rng, batch_size=16, samples=4800)
    assert x.shape == y.shape == (16, 1, 4800) and x.dtype == np.float32
    assert np.array_equal(x, y) and not flags.any()
    assert np.abs(x).max() <= 0.99 + 1e-6
    x, y, flags = make_batch(c, rng, batch_size=64, samples=4800, denoise=True)
    noisy = ~np.all(np.isclose(x, y), axis=(1, 2))
    assert flags.any() and not flags.all()
    assert noisy.any()
    assert np.all(flags[noisy] == 1)  # input and target differ only when asked to denoise
    assert np.array_equal(x[flags == 0], y[flags == 0])  # denoise off: reproduce the input, noise and all


def test_denoise_training_uses_film(folder, tmp_path):
    torch.set_num_threads(1)
    train(data=[folder], run_dir=tmp_path / "run", tcfg=TrainConfig(steps=2, batch_size=2, segment_s=0.2,
          denoise=True, warmup_steps=2), mcfg="tiny", device="cpu", progress=False)
    from harness.codecs.soundstream.checkpoint import load_generator

    model, _ = load_generator(tmp_path / "run" / "checkpoint.pt")
    assert model.cfg.film and model.film_enc is not None
    x = torch.from_numpy(speechlike(sr=24000, seconds=0.1)[:2240, 0])[None, None]
    assert not torch.equal(model.decode(model.encode(x, 4, True), True), model.decode(model.encode(x, 4, False), False))
