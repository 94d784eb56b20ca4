"""The context model the entropy coder uses: an n-gram over residual-VQ codes, one per quantizer level.

For quantizer level ``l`` of frame ``t`` the context is the code of the same level in the previous frame,
``h = c[t-1, l]`` (frame 0 has no context and uses the level's unigram). The probability of code ``w`` is the
Witten-Bell interpolation (Witten & Bell 1991; Chen & Goodman 1999, section 2.3) of the bigram with the level's
add-one unigram::

    P_l(w | h) = (C_l(h, w) + T_l(h) * U_l(w)) / (C_l(h) + T_l(h)),   U_l(w) = (N_l(w) + 1) / (N_l + K)

with ``C_l(h, w)`` the count of ``h`` followed by ``w``, ``C_l(h)`` its total, ``T_l(h)`` the number of distinct
followers and ``K`` the codebook size. Every code keeps a non-zero probability, so any code sequence can be coded.
To keep the shipped file small (and because it predicts held-out codes better: 8.80 bits per code against 8.86
with pairs seen twice kept and 9.07 with every pair), bigram pairs seen fewer than 3 times are pruned
(``min_count``); ``C_l(h)`` and ``T_l(h)`` still count them, so their mass goes to the unigram.

The file (``.npz``) carries a format version, the sha256 of the SoundStream checkpoint whose codes it was trained
on, and the training recipe; :meth:`NgramContextModel.check_checkpoint` turns a mismatch into a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.codecs.base import CodecError, CodecUnavailable

FORMAT = "rvq-ngram-context/1"


@dataclasses.dataclass(frozen=True, eq=False)
class NgramContextModel:
    """Per-level unigram + pruned previous-frame bigram counts (see the module docstring)."""

    unigram: np.ndarray  # (L, K) int64 counts
    ctx_total: np.ndarray  # (L, K) int64: C_l(h)
    ctx_types: np.ndarray  # (L, K) int64: T_l(h)
    pairs: np.ndarray  # (P, 4) int64 rows (level, h, w, count), count >= min_count, sorted
    checkpoint_sha256: str
    recipe: dict[str, Any]
    min_count: int = 3

    @property
    def levels(self) -> int:
        return int(self.unigram.shape[0])

    @property
    def codebook_size(self) -> int:
        return int(self.unigram.shape[1])

    @property
    def model_id(self) -> str:
        """sha256 (hex) of the model's numbers: what a payload names so it is never decoded with another model."""
        h = hashlib.sha256()
        for a in (self.unigram, self.ctx_total, self.ctx_types, self.pairs):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        h.update(self.checkpoint_sha256.encode())
        return h.hexdigest()

    # --- fitting --------------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, sequences: list[np.ndarray], *, checkpoint_sha256: str, recipe: dict[str, Any],
            codebook_size: int = 1024, min_count: int = 3) -> "NgramContextModel":
        """Count ``sequences`` (each ``(frames, L)`` integer codes) into a model."""
        levels = sequences[0].shape[1]
        k = codebook_size
        seqs = [np.asarray(s, np.int64) for s in sequences]
        uni = np.zeros((levels, k), np.int64)
        total = np.zeros((levels, k), np.int64)
        types = np.zeros((levels, k), np.int64)
        pair_rows = []
        for lv in range(levels):  # one level at a time: a K x K table is 8 MB
            big = np.zeros(k * k, np.int64)
            for s in seqs:
                uni[lv] += np.bincount(s[:, lv], minlength=k)
                if s.shape[0] > 1:
                    big += np.bincount(s[:-1, lv] * k + s[1:, lv], minlength=k * k)
            big = big.reshape(k, k)
            total[lv], types[lv] = big.sum(axis=1), (big > 0).sum(axis=1)
            h, w = np.nonzero(big >= min_count)
            pair_rows.append(np.stack([np.full_like(h, lv), h, w, big[h, w]], axis=1))
        pairs = np.concatenate(pair_rows).astype(np.int64)
        return cls(unigram=uni, ctx_total=total, ctx_types=types, pairs=pairs, checkpoint_sha256=checkpoint_sha256,
                   recipe=dict(recipe), min_count=min_count)

    # --- probabilities --------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        uni = self.unigram.astype(np.float64)
        object.__setattr__(self, "_uni", (uni + 1.0) / (uni.sum(axis=1, keepdims=True) + self.codebook_size))
        # pair lookup per (level, h): start offsets into the sorted pair table
        keys = self.pairs[:, 0] * self.codebook_size + self.pairs[:, 1]
        starts = np.searchsorted(keys, np.arange(self.levels * self.codebook_size + 1))
        object.__setattr__(self, "_starts", starts)

    def probabilities(self, previous: np.ndarray | None, n_q: int) -> np.ndarray:
        """``(n_q, K)`` float64 probabilities of the codes of one frame given the previous frame's codes
        (``None`` for the first frame). Elementwise arithmetic only, so encoder and decoder get identical bits."""
        if n_q > self.levels:
            raise CodecError(f"the context model covers {self.levels} quantizer levels, not {n_q}")
        uni = self._uni[:n_q]
        if previous is None:
            return uni.copy()
        prev = np.asarray(previous, np.int64)[:n_q]
        lv = np.arange(n_q)
        tot = self.ctx_total[lv, prev].astype(np.float64)[:, None]
        typ = self.ctx_types[lv, prev].astype(np.float64)[:, None]
        p = np.where(tot > 0, (typ * uni) / np.maximum(tot + typ, 1.0), uni)
        for level in range(n_q):
            key = level * self.codebook_size + int(prev[level])
            a, b = self._starts[key], self._starts[key + 1]
            if b > a and tot[level, 0] > 0:
                rows = self.pairs[a:b]
                p[level, rows[:, 2]] += rows[:, 3] / (tot[level, 0] + typ[level, 0])
        return p / p.sum(axis=1, keepdims=True)

    # --- files ----------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "checkpoint_sha256": self.checkpoint_sha256, "recipe": self.recipe,
                "min_count": self.min_count}
        tmp = p.with_name(p.name + ".tmp.npz")
        np.savez_compressed(tmp, unigram=self.unigram.astype(np.uint32), ctx_total=self.ctx_total.astype(np.uint32),
                            ctx_types=self.ctx_types.astype(np.uint16), pairs=self.pairs.astype(np.uint32),
                            meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | Path) -> "NgramContextModel":
        p = Path(path)
        if not p.is_file():
            raise CodecUnavailable(f"context model {p} not found; train one with `python scripts/"
                                   "train_entropy_model.py` (see docs/codecs.md) or pass context_model=PATH")
        try:
            with np.load(p) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                arrays = {k: z[k].astype(np.int64) for k in ("unigram", "ctx_total", "ctx_types", "pairs")}
        except (OSError, ValueError, KeyError) as exc:
            raise CodecUnavailable(f"{p}: not a readable context model ({exc}); retrain it") from exc
        if meta.get("format") != FORMAT:
            raise CodecUnavailable(f"{p}: context model format {meta.get('format')!r}, this build reads {FORMAT!r}; "
                                   "retrain it with scripts/train_entropy_model.py")
        return cls(**arrays, checkpoint_sha256=meta["checkpoint_sha256"], recipe=meta.get("recipe", {}),
                   min_count=int(meta.get("min_count", 2)))

    def check_checkpoint(self, sha256: str, *, model_path: str | Path, checkpoint_path: str | Path) -> None:
        """Raise :class:`CodecUnavailable` unless the model was trained on codes of the checkpoint ``sha256``."""
        if sha256 != self.checkpoint_sha256:
            raise CodecUnavailable(
                f"context model {model_path} was trained on codes of the SoundStream checkpoint with sha256 "
                f"{self.checkpoint_sha256[:16]}..., but {checkpoint_path} has sha256 {sha256[:16]}...; its "
                "probabilities would not fit these codes. Retrain it for this checkpoint with `python "
                f"scripts/train_entropy_model.py --checkpoint {checkpoint_path} --out {model_path}`")
