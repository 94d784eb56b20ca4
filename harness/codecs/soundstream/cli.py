"""``mushra soundstream train | export``: train our SoundStream and export the generator for the adapter."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("soundstream", help="train and export our SoundStream codec",
                              description="Train SoundStream (arXiv 2107.03312) and export checkpoints.")
    sub = p.add_subparsers(dest="ss_command", metavar="SUBCOMMAND")

    t = sub.add_parser("train", help="train (or resume) a SoundStream model on folders of audio",
                       description="Train SoundStream on every audio file under --data (resampled to 24 kHz mono). "
                                   "Checkpoints are written atomically to OUT/checkpoint.pt; --resume continues.")
    t.add_argument("--data", action="append", required=True, metavar="DIR", help="folder of audio (repeatable)")
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (checkpoint, log.jsonl, data cache)")
    t.add_argument("--steps", type=int, default=1000, help="total steps to reach (default 1000)")
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    t.add_argument("--init", metavar="CKPT", default=None,
                   help="start a new run from the generator weights in CKPT (an exported .pt such as the shipped "
                        "model, or a run's checkpoint.pt): fine-tuning. --config is ignored; steps count from 0")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: GPU if present")
    t.add_argument("--config", choices=("tiny", "small", "paper"), default="small",
                   help="model size: small (C=4, D=64; default), paper (C=32, D=512), tiny (tests)")
    t.add_argument("--denoise", action="store_true", help="joint denoising: FiLM conditioning + noise mixing")
    t.add_argument("--batch-size", type=int, default=6, help="excerpts per step (default 6)")
    t.add_argument("--segment", type=float, default=1.0, help="excerpt length in seconds (default 1.0)")
    t.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate, generator and discriminators")
    t.add_argument("--warmup-steps", type=int, default=0,
                   help="reconstruction-only steps before the discriminators start (default 0)")
    t.add_argument("--wave-loss", type=float, default=0.0,
                   help="weight of an extra L1 waveform loss (not in the paper; default 0 = paper recipe)")
    t.add_argument("--snr-loss", type=float, default=0.0, metavar="W",
                   help="weight of an extra negative-SNR waveform loss in dB (not in the paper; default 0). It "
                        "teaches waveform fidelity much faster than the L1 term; the shipped model uses 1")
    t.add_argument("--rec-weight", type=float, default=1.0, metavar="W",
                   help="weight of the multi-scale mel reconstruction loss (default 1, the paper's lambda_rec)")
    t.add_argument("--full-rate-prob", type=float, default=0.0, metavar="P",
                   help="share of batches trained with all quantizers (default 0 = quantizer dropout on every "
                        "batch, as in the paper; DAC uses 0.5)")
    t.add_argument("--ckpt-every", type=int, default=100, help="checkpoint interval in steps (default 100)")
    t.add_argument("--keep-snapshots", action="store_true",
                   help="also export the generator at every checkpoint to RUN_DIR/snapshots/step-NNNNNN.pt "
                        "(~3.6 MB each for the small model) so the best step can be chosen by held-out measurement")
    t.add_argument("--amp", choices=("off", "bf16"), default="off",
                   help="mixed precision: bf16 autocast for the convolutions (GPU recipe; RVQ, STFTs and losses stay "
                        "float32). Default off")
    t.add_argument("--max-minutes", type=float, default=0.0, metavar="M",
                   help="end this part after M minutes of wall time with a checkpoint (0 = no limit); continue "
                        "with --resume")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    t.set_defaults(func=_train)

    e = sub.add_parser("export", help="write the generator-only checkpoint the adapter loads",
                       description="Export generator weights + config (fp16 by default) from a run folder.")
    e.add_argument("run", metavar="RUN_DIR_OR_CKPT")
    e.add_argument("--out", required=True, metavar="FILE.pt")
    e.add_argument("--fp32", action="store_true", help="keep float32 weights")
    e.set_defaults(func=_export)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _train(args: argparse.Namespace) -> int:
    import torch

    from harness.codecs.soundstream.losses import LossWeights
    from harness.codecs.soundstream.train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    tcfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, segment_s=args.segment, lr_g=args.lr,
                       lr_d=args.lr, warmup_steps=args.warmup_steps, ckpt_every=args.ckpt_every, seed=args.seed,
                       denoise=args.denoise, full_rate_prob=args.full_rate_prob,
                       keep_snapshots=args.keep_snapshots, amp=args.amp, max_minutes=args.max_minutes,
                       weights=LossWeights(rec=args.rec_weight, wave=args.wave_loss, snr=args.snr_loss))
    out = train(data=args.data, run_dir=args.out, tcfg=tcfg, mcfg=args.config, resume=args.resume,
                init=args.init, device=args.device)
    print(json.dumps({"step": out["step"], "wall_time_s": round(out["wall_time_s"], 1), "stopped": out["stopped"],
                      "last": out["last"]}))
    return 0


def _export(args: argparse.Namespace) -> int:
    from harness.codecs.soundstream.checkpoint import export_generator, file_sha256

    src = Path(args.run)
    if src.is_dir():
        src = src / "checkpoint.pt"
    meta = export_generator(src, args.out, half=not args.fp32)
    print(json.dumps({"out": args.out, "step": meta["step"], "bytes": Path(args.out).stat().st_size,
                      "sha256": file_sha256(args.out)}))
    return 0


__all__ = ["register"]
