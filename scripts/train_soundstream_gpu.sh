#!/bin/sh
# GPU recipe: train the paper-size SoundStream (C = 32, D = 512; arXiv 2107.03312) on one GPU with bf16
# mixed precision, in parts of at most ~10 minutes of wall time. Run the SAME command again to continue:
# it resumes from RUN_DIR/checkpoint.pt when one exists.
#
#   sh scripts/train_soundstream_gpu.sh DATA_DIR RUN_DIR
#
# DATA_DIR: audio folder(s) to train on, e.g. /tmp/ss-data/train from scripts/make_soundstream_data.py
# (never the held-out folder). Each part: at most SS_MINUTES (default 9) minutes of training + start-up
# + the final checkpoint. Settings can be overridden by environment variables (the CPU test uses
# SS_CONFIG=tiny SS_DEVICE=cpu SS_STEPS=3 SS_BATCH=2 SS_SEGMENT=0.2):
#   SS_CONFIG (paper) SS_DEVICE (cuda) SS_AMP (bf16) SS_STEPS (total to reach, 200000) SS_BATCH (16)
#   SS_SEGMENT (seconds, 1.0) SS_LR (3e-4) SS_MINUTES (9) SS_CKPT_EVERY (500) SS_PYTHON (python3)
# Losses: the paper's (hinge adversarial 1, feature matching 100, multi-scale mel 1) + a negative-SNR waveform
# term of weight 1 (not in the paper; it keeps the phase: see docs/soundstream.md), quantizer dropout with half
# the batches at full rate. Snapshots of the generator land in RUN_DIR/snapshots for held-out selection
# (scripts/eval_soundstream.py --run RUN_DIR).
set -eu
if [ $# -ne 2 ]; then
  echo "usage: sh scripts/train_soundstream_gpu.sh DATA_DIR RUN_DIR" >&2
  exit 2
fi
DATA=$1
RUN=$2
START=""
if [ -f "$RUN/checkpoint.pt" ]; then START=--resume; fi
exec ${SS_PYTHON:-python3} -m harness.cli soundstream train --data "$DATA" --out "$RUN" $START \
  --config "${SS_CONFIG:-paper}" --device "${SS_DEVICE:-cuda}" --amp "${SS_AMP:-bf16}" \
  --steps "${SS_STEPS:-200000}" --batch-size "${SS_BATCH:-16}" --segment "${SS_SEGMENT:-1.0}" \
  --lr "${SS_LR:-3e-4}" --rec-weight 1 --snr-loss 1 --full-rate-prob 0.5 \
  --max-minutes "${SS_MINUTES:-9}" --ckpt-every "${SS_CKPT_EVERY:-500}" --keep-snapshots --seed 0
