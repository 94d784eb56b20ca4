"""SoundStream training loop: generator + wave/STFT discriminators, the paper's losses, resumable checkpoints.

``train(...)`` is what ``mushra soundstream train`` runs. Every ``ckpt_every`` steps (and at the end, or on
Ctrl-C) the full state - generator, discriminators, both optimizers, step, wall time and every RNG state - is
written atomically to ``RUN_DIR/checkpoint.pt``; ``resume=True`` continues from it bit-for-bit in data order.
Losses go to a tqdm bar and to ``RUN_DIR/log.jsonl``. ``amp="bf16"`` trains under bfloat16 autocast (GPU recipe:
``scripts/train_soundstream_gpu.sh``); ``max_minutes`` ends a part of the run after that much wall time.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import contextlib
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from harness.codecs.soundstream.checkpoint import TRAIN_FORMAT, atomic_save, load_train_state, save_generator
from harness.codecs.soundstream.data import AudioCorpus, make_batch
from harness.codecs.soundstream.discriminators import Discriminators
from harness.codecs.soundstream.losses import (LossWeights, MultiScaleMelLoss, discriminator_hinge,
                                               feature_matching, generator_hinge, snr_loss)
from harness.codecs.soundstream.model import PRESETS, SoundStream, SoundStreamConfig
from harness.errors import HarnessError


class TrainError(HarnessError):
    """The training run cannot start or continue (bad run folder, mismatched resume)."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (saved in the checkpoint). Adam betas (0.5, 0.9) as in the paper."""

    steps: int = 1000
    batch_size: int = 6
    segment_s: float = 1.0
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    warmup_steps: int = 0  # reconstruction-only steps before the discriminators start
    ckpt_every: int = 100
    log_every: int = 10
    seed: int = 0
    denoise: bool = False
    disc_width: int = 16
    # probability of a batch using all quantizers instead of a random count (0 = the paper's quantizer dropout on
    # every batch; DAC, Kumar et al. 2023, Sec. 3.3, uses 0.5 so the decoder also learns to use the finest codes)
    full_rate_prob: float = 0.0
    # also write a generator-only export ``RUN_DIR/snapshots/step-NNNNNN.pt`` at every periodic checkpoint, so the
    # best step can be chosen later by held-out measurement (scripts/eval_soundstream_run.py), not by the last one
    keep_snapshots: bool = False
    # mixed precision: "bf16" runs the generator's and discriminators' convolutions under bfloat16 autocast
    # (the RVQ, the STFTs and every loss stay float32); "off" = float32 throughout
    amp: str = "off"
    # stop this part after so many minutes of wall time (0 = no limit), saving a checkpoint: a part of a run that
    # fits a time-limited machine; continue it with --resume
    max_minutes: float = 0.0
    weights: LossWeights = LossWeights()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state, "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict[str, Any], rng: np.random.Generator) -> None:
    torch.set_rng_state(st["torch"])
    rng.bit_generator.state = st["numpy"]
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _load_init(path: str | Path) -> tuple[SoundStream, dict[str, Any]]:
    """Generator to fine-tune from ``path``. An export has no codebook usage statistics (EMA ``cluster_size``,
    ``embed_sum``); they are rebuilt as one unit of usage per entry, so no entry is re-seeded as dead at once and
    the EMA starts from the stored codebook."""
    from harness.codecs.base import CodecUnavailable
    from harness.codecs.soundstream.checkpoint import file_sha256, load_generator

    try:
        model, info = load_generator(path)
    except CodecUnavailable as exc:
        raise TrainError(f"--init: {exc}") from exc
    has_ema = info["format"] == TRAIN_FORMAT  # a training checkpoint keeps the EMA statistics; an export does not
    if not has_ema:
        with torch.no_grad():
            for layer in model.quantizer.layers:
                layer.cluster_size.fill_(1.0)
                layer.embed_sum.copy_(layer.embed)
                layer.initialized.fill_(True)
    return model.train(), {"path": str(path), "sha256": file_sha256(path), "step": info["step"],
                           "ema_stats": "stored" if has_ema else "rebuilt"}


AMP_MODES = ("off", "bf16")


@dataclasses.dataclass
class _Run:
    """Everything one training run holds between steps (mutable: step and wall time advance)."""

    gen: SoundStream
    disc: Discriminators
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    mel_loss: MultiScaleMelLoss
    corpus: AudioCorpus
    rng: np.random.Generator
    dev: torch.device
    mcfg: SoundStreamConfig
    tcfg: TrainConfig
    samples: int
    init_info: dict[str, Any] | None
    step: int = 0
    wall: float = 0.0

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.tcfg.amp == "bf16":
            return torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def save(self, path: Path) -> None:
        atomic_save({
            "format": TRAIN_FORMAT, "model_config": self.mcfg.to_dict(), "train_config": dataclasses.asdict(self.tcfg),
            "step": self.step, "wall_time_s": self.wall, "generator": self.gen.state_dict(),
            "discriminators": self.disc.state_dict(), "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(), "rng": _rng_state(self.rng),
            "data": {"files": [str(p) for p in self.corpus.files], "seconds": self.corpus.seconds},
            "device": str(self.dev), "init_from": self.init_info,
        }, path)

    def snapshot(self, run: Path) -> None:
        save_generator(self.gen, run / "snapshots" / f"step-{self.step:06d}.pt", step=self.step,
                       extra={"wall_time_s": self.wall, "train_config": dataclasses.asdict(self.tcfg),
                              "init_from": self.init_info})


def _disc(run: _Run, x: torch.Tensor) -> list:
    """Discriminator outputs as float32 (they may come out of bf16 autocast)."""
    with run.autocast():
        outs = run.disc(x)
    return [(logits.float(), [f.float() for f in feats]) for logits, feats in outs]


def _train_step(run: _Run) -> dict[str, float]:
    """One generator (and, after the warm-up, discriminator) update; returns the losses for the log."""
    tcfg, mcfg, w = run.tcfg, run.mcfg, run.tcfg.weights
    xb, yb, fb = make_batch(run.corpus, run.rng, batch_size=tcfg.batch_size, samples=run.samples,
                            denoise=tcfg.denoise)
    x, y, flags = (torch.from_numpy(a).to(run.dev) for a in (xb, yb, fb))
    full = tcfg.full_rate_prob > 0 and run.rng.random() < tcfg.full_rate_prob
    with run.autocast():
        y_hat, commit, n_q = run.gen(x, n_q=mcfg.n_q if full else None, denoise=flags)
    y_hat = y_hat.float()
    rec = run.mel_loss(y, y_hat)
    losses = {"rec": float(rec.detach()), "commit": float(commit.detach()), "n_q": n_q}
    g_loss = w.rec * rec + w.commit * commit
    if w.wave:
        wave = (y - y_hat).abs().mean()
        g_loss = g_loss + w.wave * wave
        losses["wave"] = float(wave.detach())
    if w.snr:
        neg_snr = snr_loss(y, y_hat)
        g_loss = g_loss + w.snr * neg_snr
        losses["snr_db"] = -float(neg_snr.detach())
    if run.step >= tcfg.warmup_steps:
        d_loss = discriminator_hinge(_disc(run, y), _disc(run, y_hat.detach()))
        run.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        run.opt_d.step()
        with torch.no_grad():
            real = _disc(run, y)
        fake = _disc(run, y_hat)
        adv, feat = generator_hinge(fake), feature_matching(real, fake)
        g_loss = g_loss + w.adv * adv + w.feat * feat
        losses.update(d=float(d_loss.detach()), adv=float(adv.detach()), feat=float(feat.detach()))
    run.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    run.opt_g.step()
    return losses


def _setup(*, data: list[str | Path], run_dir: Path, tcfg: TrainConfig, mcfg: SoundStreamConfig | str,
           resume: bool, init: str | Path | None, device: str) -> _Run:
    """Build (or restore from ``run_dir/checkpoint.pt``) the models, optimizers, data and RNG state."""
    ckpt_path = run_dir / "checkpoint.pt"
    state = None
    init_model, init_info = None, None
    if tcfg.amp not in AMP_MODES:
        raise TrainError(f"--amp must be one of {', '.join(AMP_MODES)}, got {tcfg.amp!r}")
    if resume and init is not None:
        raise TrainError("--init starts a new run from a checkpoint's weights; it cannot be combined with --resume")
    if init is not None:
        init_model, init_info = _load_init(init)
        mcfg = init_model.cfg
    if resume:
        if not ckpt_path.exists():
            raise TrainError(f"--resume: no checkpoint at {ckpt_path}; start without --resume")
        state = load_train_state(ckpt_path)
        mcfg = SoundStreamConfig.from_dict(state["model_config"])
        saved = state["train_config"]
        tcfg = dataclasses.replace(tcfg, **{k: saved[k] for k in ("batch_size", "segment_s", "seed", "denoise",
                                                                  "disc_width")})
        init_info = state.get("init_from")
    elif ckpt_path.exists():
        raise TrainError(f"{ckpt_path} exists; pass --resume to continue it or choose a new --out folder")
    if isinstance(mcfg, str):
        if mcfg not in PRESETS:
            raise TrainError(f"unknown model config '{mcfg}'; choose one of {', '.join(PRESETS)}")
        mcfg = PRESETS[mcfg]
    if tcfg.denoise and not mcfg.film:
        mcfg = dataclasses.replace(mcfg, film=True)
    dev = resolve_device(device)
    run_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(tcfg.seed)
    rng = np.random.default_rng(tcfg.seed)
    random.seed(tcfg.seed)
    gen = SoundStream(mcfg)
    if init_model is not None:
        gen.load_state_dict(init_model.state_dict())
    gen = gen.to(dev)
    disc = Discriminators(tcfg.disc_width).to(dev)
    opt_g = torch.optim.Adam(gen.parameters(), lr=tcfg.lr_g, betas=tcfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=tcfg.lr_d, betas=tcfg.betas)
    run = _Run(gen=gen, disc=disc, opt_g=opt_g, opt_d=opt_d, mel_loss=MultiScaleMelLoss(mcfg.sample_rate).to(dev),
               corpus=None, rng=rng, dev=dev, mcfg=mcfg, tcfg=tcfg, init_info=init_info,  # type: ignore[arg-type]
               samples=int(round(tcfg.segment_s * mcfg.sample_rate / mcfg.hop)) * mcfg.hop)
    if state is not None:
        gen.load_state_dict(state["generator"])
        disc.load_state_dict(state["discriminators"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        run.step, run.wall = int(state["step"]), float(state["wall_time_s"])
        _set_rng_state(state["rng"], rng)
        for opt, lr in ((opt_g, tcfg.lr_g), (opt_d, tcfg.lr_d)):  # --lr given on resume wins over the saved one
            for group in opt.param_groups:
                group["lr"] = lr
    run.corpus = AudioCorpus(data, sample_rate=mcfg.sample_rate, cache_dir=run_dir / "cache")
    return run


def train(*, data: list[str | Path], run_dir: str | Path, tcfg: TrainConfig, mcfg: SoundStreamConfig | str = "small",
          resume: bool = False, init: str | Path | None = None, device: str = "auto", progress: bool = True,
          on_step: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train (or continue training) a SoundStream model; returns ``{"step", "wall_time_s", "last", "stopped"}``
    (``stopped``: "steps" when ``tcfg.steps`` was reached, "time" when ``tcfg.max_minutes`` ended the part).

    ``init``: start a new run (step 0, fresh optimizers and discriminators) from the generator weights of an
    exported or training checkpoint - fine-tuning, e.g. of the shipped model; its model config replaces ``mcfg``.
    """
    rd = Path(run_dir)
    ckpt_path = rd / "checkpoint.pt"
    run = _setup(data=data, run_dir=rd, tcfg=tcfg, mcfg=mcfg, resume=resume, init=init, device=device)
    tcfg = run.tcfg
    bar = None
    if progress:
        from harness.progress import progress_bar
        bar = progress_bar(total=tcfg.steps, initial=run.step, desc="soundstream", unit="step", dynamic_ncols=True,
                           leave=True)
    run.gen.train()
    run.disc.train()
    last: dict[str, float] = {}
    stopped = "steps"
    t_part = time.perf_counter()
    log = open(rd / "log.jsonl", "a")
    try:
        while run.step < tcfg.steps:
            if tcfg.max_minutes and time.perf_counter() - t_part >= 60.0 * tcfg.max_minutes:
                stopped = "time"
                break
            t0 = time.perf_counter()
            last = _train_step(run)
            run.step += 1
            run.wall += time.perf_counter() - t0
            if on_step is not None:
                on_step(run.step, last)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in last.items()})
            if run.step % tcfg.log_every == 0 or run.step == tcfg.steps:
                log.write(json.dumps({"step": run.step, "wall_time_s": round(run.wall, 2), **last}) + "\n")
                log.flush()
            if run.step % tcfg.ckpt_every == 0 or run.step == tcfg.warmup_steps:
                run.save(ckpt_path)
                if tcfg.keep_snapshots and run.step % tcfg.ckpt_every == 0:
                    run.snapshot(rd)
            if run.step == tcfg.warmup_steps:  # keep the reconstruction-only model of the warm-up
                shutil.copyfile(ckpt_path, rd / "checkpoint-warmup.pt")
    except KeyboardInterrupt:
        run.save(ckpt_path)
        raise
    finally:
        log.close()
        if bar is not None:
            bar.close()
    run.save(ckpt_path)
    return {"step": run.step, "wall_time_s": run.wall, "last": last, "stopped": stopped}
