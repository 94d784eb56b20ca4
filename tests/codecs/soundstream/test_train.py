"""Training: the reconstruction loss falls on generated audio (seeded), the adversarial path runs, a resumed
run continues from the saved step and ends where an uninterrupted run ends, export writes a loadable generator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from harness.codecs.soundstream.checkpoint import export_generator, load_generator, load_train_state
from harness.codecs.soundstream.train import TrainConfig, TrainError, train
from tests.conftest import speechlike, tone

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    sf.write(str(d / "speech.wav"), speechlike(sr=24000, seconds=2.0, seed=1), 24000)
    sf.write(str(d / "tone.wav"), tone(330, sr=16000, seconds=1.5), 16000)  # another rate: resampled
    return d


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=4, batch_size=2, segment_s=0.2, lr_g=1e-3, lr_d=1e-3, ckpt_every=2, log_every=1, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_reconstruction_loss_decreases(data_dir, tmp_path):
    torch.set_num_threads(1)
    losses: list[float] = []
    train(data=[data_dir], run_dir=tmp_path / "run", tcfg=_cfg(steps=40, warmup_steps=40, ckpt_every=100),
          mcfg="tiny", device="cpu", progress=False, on_step=lambda s, l: losses.append(l["rec"]))
    assert len(losses) == 40
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.8 * first, (first, last)


def test_adversarial_steps_and_resume_match_an_uninterrupted_run(data_dir, tmp_path):
    torch.set_num_threads(1)
    a, b = tmp_path / "a", tmp_path / "b"
    cfg = _cfg(steps=4, warmup_steps=2)
    train(data=[data_dir], run_dir=a, tcfg=cfg, mcfg="tiny", device="cpu", progress=False)
    assert load_train_state(a / "checkpoint.pt")["step"] == 4
    assert (a / "checkpoint-warmup.pt").exists()
    assert "d" in _log(a)[-1] and "d" not in _log(a)[0]  # discriminators start after the warm-up
    with pytest.raises(TrainError):
        train(data=[data_dir], run_dir=a, tcfg=cfg, mcfg="tiny", device="cpu", progress=False)
    out = train(data=[data_dir], run_dir=a, tcfg=_cfg(steps=6, warmup_steps=2), mcfg="tiny", device="cpu",
                resume=True, progress=False)
    assert out["step"] == 6
    assert [r["step"] for r in _log(a)] == [1, 2, 3, 4, 5, 6]
    train(data=[data_dir], run_dir=b, tcfg=_cfg(steps=6, warmup_steps=2), mcfg="tiny", device="cpu",
          progress=False)
    ga, gb = (load_train_state(r / "checkpoint.pt")["generator"] for r in (a, b))
    for k in ga:
        assert torch.allclose(ga[k].float(), gb[k].float(), atol=1e-5), k
    assert [r["rec"] for r in _log(a)] == pytest.approx([r["rec"] for r in _log(b)], rel=1e-4)


def test_export_is_small_and_loads(data_dir, tmp_path):
    run = tmp_path / "run"
    train(data=[data_dir], run_dir=run, tcfg=_cfg(steps=2, warmup_steps=2), mcfg="tiny", device="cpu",
          progress=False)
    out = tmp_path / "g.pt"
    export_generator(run / "checkpoint.pt", out)
    assert out.stat().st_size < (run / "checkpoint.pt").stat().st_size / 2
    model, meta = load_generator(out)
    assert meta["step"] == 2 and not model.training
    assert model.decode(model.encode(torch.zeros(1, 1, 640), 2)).shape == (1, 1, 640)


def test_resume_without_checkpoint_and_bad_data_are_clear_errors(tmp_path):
    from harness.errors import HarnessError

    with pytest.raises(TrainError, match="--resume"):
        train(data=[tmp_path], run_dir=tmp_path / "r", tcfg=_cfg(), mcfg="tiny", resume=True, progress=False)
    with pytest.raises(HarnessError, match="no audio files"):
        train(data=[tmp_path], run_dir=tmp_path / "r", tcfg=_cfg(), mcfg="tiny", progress=False)


def test_full_rate_prob_and_lr_on_resume(data_dir, tmp_path):
    """``full_rate_prob=1`` trains every batch with all quantizers (0: random counts, quantizer dropout); an
    ``lr`` given on resume replaces the one saved in the optimizer state."""
    torch.set_num_threads(1)
    used: list[int] = []
    run = tmp_path / "run"
    train(data=[data_dir], run_dir=run, tcfg=_cfg(steps=6, warmup_steps=6, full_rate_prob=1.0), mcfg="tiny",
          device="cpu", progress=False, on_step=lambda s, l: used.append(l["n_q"]))
    assert used == [8] * 6
    dropped: list[int] = []
    train(data=[data_dir], run_dir=tmp_path / "drop", tcfg=_cfg(steps=12, warmup_steps=12), mcfg="tiny",
          device="cpu", progress=False, on_step=lambda s, l: dropped.append(l["n_q"]))
    assert len(set(dropped)) > 2 and min(dropped) >= 1 and max(dropped) <= 8
    train(data=[data_dir], run_dir=run, tcfg=_cfg(steps=7, warmup_steps=6, lr_g=5e-5, lr_d=7e-5), mcfg="tiny",
          device="cpu", resume=True, progress=False)
    st = load_train_state(run / "checkpoint.pt")
    assert st["opt_g"]["param_groups"][0]["lr"] == 5e-5
    assert st["opt_d"]["param_groups"][0]["lr"] == 7e-5


def test_snr_loss_values():
    """The negative-SNR term is in dB: 0 for a silent output, -10 for an error 10 dB below the target, and it is
    not scale-invariant (a half-level copy is penalised)."""
    from harness.codecs.soundstream.losses import snr_loss

    g = torch.Generator().manual_seed(0)
    y = torch.randn(3, 1, 4000, generator=g)
    e = torch.randn(3, 1, 4000, generator=g)
    e = e * (y.pow(2).sum(-1, keepdim=True) / e.pow(2).sum(-1, keepdim=True)).sqrt() * 10 ** (-10 / 20)
    assert float(snr_loss(y, torch.zeros_like(y))) == pytest.approx(0.0, abs=1e-4)
    assert float(snr_loss(y, y + e)) == pytest.approx(-10.0, abs=1e-3)
    assert float(snr_loss(y, 0.5 * y)) == pytest.approx(10 * np.log10(0.25), abs=1e-3)
    assert float(snr_loss(y, y)) < -60


def test_snr_loss_term_is_logged_and_trains(data_dir, tmp_path):
    """With ``LossWeights(snr=1)`` the waveform SNR is logged (``snr_db``) and rises on a tiny model."""
    from harness.codecs.soundstream.losses import LossWeights

    torch.set_num_threads(1)
    snrs: list[float] = []
    train(data=[data_dir], run_dir=tmp_path / "run", mcfg="tiny", device="cpu", progress=False,
          tcfg=_cfg(steps=40, warmup_steps=40, ckpt_every=100, lr_g=3e-3, weights=LossWeights(rec=0.0, snr=1.0)),
          on_step=lambda s, l: snrs.append(l["snr_db"]))
    assert np.mean(snrs[-8:]) > np.mean(snrs[:8]) + 0.5, snrs


def test_init_fine_tunes_from_an_export_without_reseeding_codebooks(data_dir, tmp_path):
    """``init=`` starts a new run from exported weights: step 0, the export's config and weights, provenance
    recorded, and no codebook entry re-seeded as dead although the export carries no EMA usage statistics."""
    torch.set_num_threads(1)
    src = tmp_path / "src"
    train(data=[data_dir], run_dir=src, tcfg=_cfg(steps=6, warmup_steps=6), mcfg="tiny", device="cpu",
          progress=False)
    export_generator(src / "checkpoint.pt", tmp_path / "g.pt", half=False)
    ref, _ = load_generator(tmp_path / "g.pt")
    before = ref.state_dict()

    ft = tmp_path / "ft"  # lr 0: only the codebook EMA may move anything
    out = train(data=[data_dir], run_dir=ft, tcfg=_cfg(steps=1, warmup_steps=1, lr_g=0.0, lr_d=0.0),
                mcfg="paper", init=tmp_path / "g.pt", device="cpu", progress=False)
    assert out["step"] == 1
    st = load_train_state(ft / "checkpoint.pt")
    assert st["model_config"] == ref.cfg.to_dict()  # the init's config wins over mcfg
    assert st["init_from"]["step"] == 6 and st["init_from"]["ema_stats"] == "rebuilt"
    after = st["generator"]
    for k, v in before.items():
        if v.is_floating_point() and not k.startswith("quantizer."):
            torch.testing.assert_close(after[k], v, msg=k)
    vectors = 2 * int(round(0.2 * 75))  # batch 2 x 15 frames: at most this many entries are assigned per stage
    for i in range(ref.cfg.n_q):
        old, new = before[f"quantizer.layers.{i}.embed"], after[f"quantizer.layers.{i}.embed"]
        changed = int(((new - old).norm(dim=1) > 1e-3 * old.norm(dim=1).clamp_min(1e-6)).sum())
        assert changed <= vectors, (i, changed)  # re-seeding dead entries would change all 1024

    with pytest.raises(TrainError, match="--resume"):
        train(data=[data_dir], run_dir=ft, tcfg=_cfg(steps=2), init=tmp_path / "g.pt", resume=True, device="cpu",
              progress=False)
    with pytest.raises(TrainError, match="--init"):
        train(data=[data_dir], run_dir=tmp_path / "x", tcfg=_cfg(steps=1), init=tmp_path / "nope.pt",
              device="cpu", progress=False)


def test_adversarial_step_updates_both_generator_and_discriminators(data_dir, tmp_path):
    """One adversarial step on the tiny model: every loss finite, and the step changes the generator's and
    the discriminators' weights (the discriminator loss and the generator's adversarial/feature terms act)."""
    torch.set_num_threads(1)
    init = tmp_path / "init"
    train(data=[data_dir], run_dir=init, tcfg=_cfg(steps=1, warmup_steps=10), mcfg="tiny", device="cpu",
          progress=False)
    cfg = _cfg(steps=1, warmup_steps=0, lr_g=1e-4, lr_d=1e-4)
    # the same run stopped before its first step holds the starting weights of generator and discriminators
    train(data=[data_dir], run_dir=tmp_path / "start", tcfg=dataclasses.replace(cfg, steps=0),
          init=init / "checkpoint.pt", device="cpu", progress=False)
    before = load_train_state(tmp_path / "start" / "checkpoint.pt")
    run = tmp_path / "adv"
    out = train(data=[data_dir], run_dir=run, tcfg=cfg, init=init / "checkpoint.pt", device="cpu", progress=False)
    losses = out["last"]
    for key in ("rec", "commit", "d", "adv", "feat"):
        assert np.isfinite(losses[key]), (key, losses)
    assert losses["d"] > 0 and losses["feat"] > 0
    after = load_train_state(run / "checkpoint.pt")
    for part in ("generator", "discriminators"):
        moved = [k for k, v in after[part].items() if v.is_floating_point() and "quantizer" not in k
                 and not torch.equal(v, before[part][k])]
        assert moved, f"the {part} did not move"
        assert all(torch.isfinite(v).all() for v in after[part].values() if v.is_floating_point())
    start_w = load_train_state(init / "checkpoint.pt")["generator"]
    assert all(torch.equal(v, start_w[k]) for k, v in before["generator"].items())  # it did start from --init


def test_bf16_recipe_runs_in_time_limited_parts(data_dir, tmp_path):
    """The GPU recipe script on CPU with the tiny config: bf16 autocast, finite losses; a part ends at the time
    limit with a checkpoint and the same command resumes it."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    run = tmp_path / "gpu-run"
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "SS_CONFIG": "tiny", "SS_DEVICE": "cpu",
           "SS_STEPS": "3", "SS_BATCH": "2", "SS_SEGMENT": "0.2", "SS_CKPT_EVERY": "2", "SS_PYTHON": sys.executable}
    cmd = ["sh", str(root / "scripts" / "train_soundstream_gpu.sh"), str(data_dir), str(run)]
    first = subprocess.run(cmd, env={**env, "SS_MINUTES": "0.0001"}, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    part1 = json.loads(first.stdout.strip().splitlines()[-1])
    assert part1["stopped"] == "time" and part1["step"] == 1  # the limit is checked before each step
    assert load_train_state(run / "checkpoint.pt")["train_config"]["amp"] == "bf16"
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    part2 = json.loads(second.stdout.strip().splitlines()[-1])
    assert part2["stopped"] == "steps" and part2["step"] == 3
    assert all(np.isfinite(v) for k, v in part2["last"].items() if k != "n_q")
    assert (run / "snapshots" / "step-000002.pt").exists()
