"""Simulated crowds for adaptive-study tests and ``benchmarks/bench_adaptive.py``: a generated study, a rater
population (offsets, slopes, rater x condition effects, per-category noise, a share of careless raters), and a
driver that takes sessions through the functions the JSON API calls (``flow.create_session``, ``steps.next_step``,
``steps.submit``) on a real database.

Score model for a careful rater ``r`` on item ``i`` (category ``g``) and codec condition ``c``:
``clip(round(50 + (1 + slope_r) (q_gc + item_ic - 50) + offset_r + rc_rc + e), 0, 100)`` with ``e ~ N(0,
noise_g)``; hidden reference ``100 - |N(0, 3)|``; anchors ``q + offset + e``. Careless raters give uniform random
scores (one random stimulus at 100, as the page requires), which BS.1534-3 post-screening removes.
Nothing here is measured data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

import numpy as np

from harness.audio import write_audio
from harness.manifest import ConditionRecord, ItemRecord, Manifest, StimulusRecord

CATEGORIES = ("speech", "music")
CODECS = ("c6", "c9", "c12", "c18", "c24", "c32")
QUALITY = {"speech": (38.0, 50.0, 61.0, 72.0, 80.0, 86.0), "music": (30.0, 42.0, 53.0, 64.0, 73.0, 80.0)}
ANCHOR_Q = {"lp3.5": 18.0, "lp7": 45.0}


@dataclasses.dataclass(frozen=True)
class Population:
    """Rater population (MUSHRA points). ``noise``: per-category residual SD."""

    offset_sd: float = 6.0
    slope_sd: float = 0.15
    rater_condition_sd: float = 3.0
    item_condition_sd: float = 4.0
    noise: tuple[tuple[str, float], ...] = (("speech", 7.0), ("music", 16.0))
    careless: float = 0.15


def build_crowd_study(folder: Path, *, items_per_category: int = 4, rater: dict | None = None,
                      sr: int = 8000, seconds: float = 0.5) -> Path:
    """A prepared study (tiny generated audio) with 2 categories x ``items_per_category`` items, the hidden
    reference, both anchors and the six codec conditions of :data:`CODECS`."""
    folder = Path(folder)
    conds = [ConditionRecord(id="reference", kind="reference", label="hidden reference"),
             ConditionRecord(id="lp3.5", kind="anchor", label="3.5 kHz low-pass"),
             ConditionRecord(id="lp7", kind="anchor", label="7 kHz low-pass")]
    conds += [ConditionRecord(id=c, kind="codec", codec="sim", kbps=float(c[1:]), label=c) for c in CODECS]
    rng = np.random.default_rng(0)
    items, stimuli = [], []
    for g in CATEGORIES:
        for k in range(items_per_category):
            item = f"{g}{k + 1}"
            x = (0.1 * rng.standard_normal((int(sr * seconds), 1))).astype(np.float32)
            write_audio(folder / "reference" / f"{item}.wav", x, sr)
            items.append(ItemRecord(id=item, category=g, source=f"{item}.wav", reference=f"reference/{item}.wav",
                                    duration_s=seconds))
            for c in conds:
                rel = f"stimuli/{item}/{c.id}.wav"
                write_audio(folder / rel, x, sr)
                stimuli.append(StimulusRecord(
                    item=item, condition=c.id, kind=c.kind, path=rel,
                    sha256=hashlib.sha256((folder / rel).read_bytes()).hexdigest(), loudness_lufs=-23.0,
                    gain_db=0.0, codec=c.codec, nominal_kbps=c.kbps, measured_kbps=c.kbps))
    name = "adaptive-sim"
    Manifest(study_name=name, study_hash=hashlib.sha256(name.encode()).hexdigest()[:16], sample_rate=sr,
             channels=1, loudness_target_lufs=-23.0, items=tuple(items), conditions=tuple(conds),
             stimuli=tuple(stimuli), rater=dict(rater or {})).save(folder)
    return folder


class Crowd:
    """Raters in arrival order; rater ``n`` is the same person in every design run with the same ``seed``."""

    def __init__(self, study, pop: Population = Population(), *, seed: int = 0, item_seed: int = 0,
                 same_as: dict[str, str] | None = None):
        """``same_as``: condition -> condition whose quality and item effects it copies (a true tie)."""
        self.study, self.pop, self.seed = study, pop, seed
        irng = np.random.default_rng([item_seed, 7])  # item effects: fixed for a benchmark (items are fixed)
        self.item_eff = {(i, c): float(irng.normal(0, pop.item_condition_sd))
                         for i in study.items for c in CODECS}
        self.same_as = dict(same_as or {})
        for c, twin in self.same_as.items():
            for i in study.items:
                self.item_eff[(i, c)] = self.item_eff[(i, twin)]
        self.cat = {i.id: i.category for i in study.manifest.items}
        self.noise = dict(pop.noise)

    def rater(self, n: int) -> dict:
        rng = np.random.default_rng([self.seed, n])
        return {"n": n, "careless": bool(rng.random() < self.pop.careless),
                "offset": float(rng.normal(0, self.pop.offset_sd)), "slope": float(rng.normal(0, self.pop.slope_sd)),
                "rc": {c: float(rng.normal(0, self.pop.rater_condition_sd)) for c in CODECS}}

    def score(self, r: dict, item: str, condition: str) -> float:
        rng = np.random.default_rng([self.seed, r["n"], int(hashlib.md5(f"{item}/{condition}".encode())
                                                           .hexdigest()[:8], 16)])
        if r["careless"]:
            return float(rng.integers(0, 101))
        if condition == "reference":
            return float(np.clip(round(100 - abs(rng.normal(0, 3))), 0, 100))
        g = self.cat[item]
        if condition in ANCHOR_Q:
            return float(np.clip(round(ANCHOR_Q[condition] + r["offset"] + rng.normal(0, 5)), 0, 100))
        q = QUALITY[g][CODECS.index(self.same_as.get(condition, condition))] + self.item_eff[(item, condition)]
        s = 50 + (1 + r["slope"]) * (q - 50) + r["offset"] + r["rc"][condition] + rng.normal(0, self.noise[g])
        return float(np.clip(round(s), 0, 100))

    def truth(self, n_raters: int = 200_000, seed: int = 99) -> dict[tuple[str, str], float]:
        """(category, condition) -> population mean of careful raters' scores over this study's items (the
        estimand of the rater-aware interval: raters random, items fixed; clipping and rounding included)."""
        rng = np.random.default_rng(seed)
        out = {}
        for g in CATEGORIES:
            items = [i for i in self.study.items if self.cat[i] == g]
            for c in CODECS:
                off = rng.normal(0, self.pop.offset_sd, n_raters)
                slope = rng.normal(0, self.pop.slope_sd, n_raters)
                rc = rng.normal(0, self.pop.rater_condition_sd, n_raters)
                vals = []
                for i in items:
                    q = QUALITY[g][CODECS.index(self.same_as.get(c, c))] + self.item_eff[(i, c)]
                    s = 50 + (1 + slope) * (q - 50) + off + rc + rng.normal(0, self.noise[g], n_raters)
                    vals.append(np.clip(np.round(s), 0, 100).mean())
                out[(g, c)] = float(np.mean(vals))
        return out


def take_session(crowd: Crowd, r: dict, db, study, token: str) -> None:
    """Answer every step of a session through :func:`steps.next_step` / :func:`steps.submit`."""
    from harness.webtest import steps

    step = steps.next_step(db, study, token, audio_url=lambda o: o)
    while step["kind"] != "done":
        if step["kind"] in ("mushra", "training"):
            trial = _trial_stimuli(db, step["trial"])
            ratings = {oid: crowd.score(r, trial["item"], cond) for oid, cond in trial["stimuli"]}
            if max(ratings.values()) < 100:  # the page requires one at 100
                ratings[max(ratings, key=ratings.get)] = 100.0
            body = {"ratings": ratings, "telemetry": {"plays": {o: 1 for o in ratings},
                                                      "listen_ms": {o: 5000 for o in ratings}}}
        else:
            body = {"answers": {}}
        steps.submit(db, study, token, step["trial"], body)
        step = steps.next_step(db, study, token, audio_url=lambda o: o)


def _trial_stimuli(db, trial_id: int) -> dict:
    """Server-side truth of a trial (which condition hides behind each opaque id): the simulated rater's ears."""
    from sqlalchemy import select

    from harness.ratings.models import Trial

    with db.Read() as s:
        t = s.scalar(select(Trial).where(Trial.id == trial_id))
        return {"item": t.item, "stimuli": [tuple(x[:2]) for x in t.stimuli]}


def new_session(db, study, n: int, *, adaptive) -> str | None:
    """Create rater ``n``'s session (None when the study answers 409)."""
    from harness.webtest import flow

    if adaptive is not None:
        adaptive.state()  # as the API does: refresh outside the write lock
    try:
        with db.write_lock(), db.Write.begin() as s:
            sess = flow.create_session(s, study, participant_id=f"sim-{n}", platform="prolific", crowd={},
                                          device={}, user_agent="sim", adaptive=adaptive)
            return sess.token
    except flow.ApiError as exc:
        if exc.code in ("study_complete", "study_full"):
            return None
        raise


class SimClock:
    """Simulated seconds for :class:`harness.webtest.adaptive.Controller` (arrivals every ``arrival_s``)."""

    def __init__(self, arrival_s: float):
        self.t, self.arrival_s = 0.0, arrival_s

    def __call__(self) -> float:
        return self.t


def run_crowd(crowd: Crowd, db, study, *, adaptive, concurrency: int = 1, max_raters: int = 10_000,
              seed: int = 0, on_finish=None, clock: SimClock | None = None) -> int:
    """Let the crowd in: up to ``concurrency`` sessions in flight, each new arrival asks for a session until the
    study answers 409 or ``max_raters`` arrived; ``on_finish(n_finished)`` after each finished session may return
    True to stop; ``clock`` advances by its ``arrival_s`` per arrival. Returns the number of sessions created."""
    rng = random.Random(seed)
    flight: list[tuple[dict, str]] = []
    n, stop = 0, False
    while True:
        while not stop and len(flight) < concurrency and n < max_raters:
            r = crowd.rater(n)
            if clock is not None:
                clock.t += clock.arrival_s
            token = new_session(db, study, n, adaptive=adaptive)
            if token is None:  # closed: arrivals keep coming, and get in again if the study reopens
                break
            flight.append((r, token))
            n += 1
        if not flight:
            return n
        r, token = flight.pop(rng.randrange(len(flight)))
        take_session(crowd, r, db, study, token)
        if on_finish is not None and on_finish(n - len(flight)):
            stop = True
