"""Adaptive studies: steer new sessions to the items whose conditions are furthest from their precision target,
and close the study when every target is met or the rater budget is spent.

The statistics are :mod:`harness.sequential` on the ratings saved so far (the analysis' rater-aware estimator,
after the study's post-screening preset; screened-out and admin-excluded sessions never count). A
:class:`Controller` per worker process caches the resulting :class:`StudyState` and recomputes it at most every
``refresh_s`` seconds (default :data:`REFRESH_S`), outside the write lock; the submission path never touches it.
Session creation only reads the cached state and two cheap counts.

Assignment: a category's *need* is ``max over its unmet targets of (half_width / target)^2 * n / (n + pending)``
(the expected share of raters still missing, discounting raters in flight). A new session's trials are spread over
the categories in proportion to their needs (all of them to the only unmet category), the least-loaded items of
each (random tie-break); see :func:`choose_items`. ``max_raters`` caps raters who finished a session (whether
or not screening later drops them), counting sessions in progress, so the budget is never overshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import random
import threading
import time
from typing import Any

import pandas as pd
from sqlalchemy import text

from harness.sequential import MIN_RATERS, Targets, precision_status, resolve_status
from harness.vocabulary import SessionState, TrialKind, parse_resolve
from harness.webtest import adaptive_share
from harness.webtest.flow import ApiError
from harness.ratings.models import utcnow

log = logging.getLogger(__name__)
REFRESH_S = 5.0  # seconds between recomputations of the study state (per worker process)
OPEN, MET, BUDGET = "collecting", "every target met", "rater budget spent"

_MUSHRA, _DONE, _ACTIVE = TrialKind.MUSHRA.value, SessionState.DONE.value, SessionState.ACTIVE.value
SQL_RATINGS = text(
    "SELECT s.id AS session_id, COALESCE(s.participant_id, s.public_id) AS rater, t.item, r.condition, r.score, "
    "r.plays, r.listen_ms, r.submitted_at, COALESCE(t.flags, '') AS trial_flags FROM ratings r "
    "JOIN trials t ON t.id = r.trial_id "
    f"JOIN sessions s ON s.id = t.session_id WHERE t.kind = '{_MUSHRA}' AND s.screened_out = :no "
    "AND s.excluded = :no")
SQL_VERSION = text(  # changes whenever a rating is saved or a session is screened out or (un)excluded
    "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM sessions WHERE screened_out <> :no OR "
    "excluded <> :no), (SELECT sum(id) FROM sessions WHERE screened_out <> :no OR excluded <> :no)")
_STARTED = "EXISTS (SELECT 1 FROM trials d WHERE d.session_id = {s}.id AND d.submitted_at IS NOT NULL)"
SQL_RATERS = text(  # finished sessions, and sessions in flight: active within the timeout and started (a session
    # that never submitted anything reserves nothing, as in flow.item_load, so idle sessions cannot use up the budget)
    f"SELECT sum(CASE WHEN state = '{_DONE}' THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN state = '{_ACTIVE}' AND last_seen >= :cutoff AND {_STARTED.format(s='sessions')} THEN 1 ELSE 0 "
    "END) FROM sessions WHERE screened_out = :no AND excluded = :no")


@dataclasses.dataclass(frozen=True)
class StudyState:
    """One evaluation of an adaptive study. ``precision``/``resolve``: tables from :mod:`harness.sequential`;
    ``need``: category -> priority (0 when met); ``status``: :data:`OPEN`, :data:`MET` or :data:`BUDGET`."""

    computed_at: dt.datetime
    status: str
    precision: pd.DataFrame
    resolve: pd.DataFrame
    need: dict[str, float]
    raters_counted: int  # raters whose ratings enter the estimates (after screening)
    raters_screened: int  # removed by post-screening
    finished: int  # finished sessions (what the budget counts)
    in_flight: int
    max_raters: int | None

    @property
    def complete(self) -> bool:
        return self.status != OPEN

    def reason(self) -> str:
        """One line for the dashboard: why the study stopped, or how far it is."""
        if self.status == MET:
            return f"Complete: every target met with {self.raters_counted} raters counted ({self.finished} finished)."
        if self.status == BUDGET:
            open_ = int((~self.precision["met"]).sum()) + int((self.resolve["decision"] == "open").sum())
            return (f"Stopped: the budget of max_raters = {self.max_raters} raters is spent "
                    f"({self.finished} finished, {self.in_flight} in progress) with {open_} target(s) unmet.")
        met = int(self.precision["met"].sum()) + int((self.resolve["decision"] != "open").sum())
        total = len(self.precision) + len(self.resolve)
        return f"Collecting: {met} of {total} targets met; {self.finished} raters finished, {self.in_flight} in progress."


def targets_of(settings) -> Targets:
    return Targets(precision=settings.precision, resolve=tuple(parse_resolve(r) for r in settings.resolve),
                   equivalence_margin=settings.equivalence_margin, decision_error=settings.decision_error)


def _layout(study) -> tuple[dict[str, str], dict[str, list[str]]]:
    """item -> category, and category -> the codec conditions its items carry."""
    cat_of = {i.id: i.category for i in study.manifest.items}
    kinds = {c.id: c.kind for c in study.manifest.conditions}
    conds: dict[str, set[str]] = {}
    for item, cs in study.conditions.items():
        conds.setdefault(cat_of[item], set()).update(c for c in cs if kinds.get(c) == "codec")
    return cat_of, {k: sorted(v) for k, v in conds.items()}


def ratings_frame(conn, study) -> pd.DataFrame:
    """The ratings that count so far (long format, the analysis' columns that screening needs)."""
    rows = conn.execute(SQL_RATINGS, {"no": False}).all()
    df = pd.DataFrame(rows, columns=["session_id", "rater", "item", "condition", "score", "plays", "listen_ms",
                                     "submitted_at", "trial_flags"])
    cat_of, _ = _layout(study)
    kinds = {c.id: c.kind for c in study.manifest.conditions}
    df["category"] = df["item"].map(cat_of)
    df["kind"] = df["condition"].map(kinds).fillna("codec")
    df["score"] = df["score"].astype(float)
    return df


def screen(frame: pd.DataFrame, settings) -> tuple[pd.DataFrame, int]:
    """Post-screening with the study's preset, as ``mushra analyze --study`` applies it by default: raters with
    listening-evidence flags count exactly as they do there (a study with ``require_full_listening = true``
    rejects such trials outright). Returns the kept ratings and the number of raters removed."""
    if frame.empty:
        return frame, 0
    from harness.analysis import screening  # the one implementation of the presets

    cfg = screening.preset(settings.screening)
    if getattr(settings, "exclude_flagged", False):
        cfg = dataclasses.replace(cfg, exclude_flagged=True)
    table = screening.screen(frame, cfg)
    return screening.kept(frame, table), int(table["excluded"].sum())


def evaluate(frame: pd.DataFrame, study, *, finished: int, in_flight: int, pending: dict[str, int],
             plan: bool = False) -> StudyState:
    """The study state from the ratings that count (pure; ``pending``: category -> raters in flight;
    ``plan``: also estimate the raters still needed, for the dashboard)."""
    settings = study.settings
    tg = targets_of(settings)
    _, conds = _layout(study)
    cats = sorted(conds)
    kept, n_screened = screen(frame, settings)
    if tg.precision is not None:
        prec = precision_status(kept, precision=tg.precision, categories=cats, codec_conditions=conds, plan=plan)
    else:
        prec = precision_status(kept.iloc[:0], precision=math.inf, categories=[], codec_conditions={})
    pair_cats = [c for c in cats if any(set(p) <= set(conds[c]) | {"reference", "lp3.5", "lp7"} for p in tg.resolve)]
    res = resolve_status(kept, tg.resolve, margin=tg.equivalence_margin, alpha=tg.decision_error,
                         categories=pair_cats)
    need: dict[str, float] = {}
    for cat in cats:
        p = pending.get(cat, 0)
        ratios = [math.inf if r.n_raters < 2 else max((r.half_width / r.target) ** 2 * r.n_raters / (r.n_raters + p),
                                                      MIN_RATERS / (r.n_raters + p))
                  for r in prec[(prec["category"] == cat) & ~prec["met"]].itertuples()]
        if ((res["category"] == cat) & (res["decision"] == "open")).any():
            ratios.append(1.0 + 1e-6)  # open decisions keep their category in play
        need[cat] = max(ratios, default=0.0)
    met = bool(prec["met"].all()) and not (res["decision"] == "open").any()
    cap = settings.max_raters
    status = MET if met else (BUDGET if cap is not None and finished >= cap else OPEN)
    return StudyState(computed_at=utcnow(), status=status, precision=prec, resolve=res, need=need,
                      raters_counted=int(kept["rater"].nunique()) if len(kept) else 0,
                      raters_screened=n_screened, finished=finished, in_flight=in_flight, max_raters=cap)


def choose_items(need: dict[str, float], cat_of: dict[str, str], load: dict[str, int], k: int,
                 rng: random.Random) -> list[str]:
    """``k`` items, one at a time: the category with the largest ``need / (1 + items it already got in this
    session)`` (so a session's trials follow the needs: all to the one unmet category, split when several are
    unmet), the least-loaded item in it (random tie-break); plain balancing once nothing is needed. Shuffled."""
    by_cat: dict[str, list[str]] = {}
    for item in sorted(load, key=lambda i: (load[i], rng.random())):
        by_cat.setdefault(cat_of[item], []).append(item)
    taken: dict[str, int] = {}
    chosen: list[str] = []
    while len(chosen) < k and any(by_cat.values()):
        live = [c for c, items in by_cat.items() if items]
        if any(need.get(c, 0.0) > 0 for c in live):
            cat = max(live, key=lambda c: (need.get(c, 0.0) / (1 + taken.get(c, 0)), rng.random()))
        else:  # every target met or covered: least-loaded item overall
            cat = min(live, key=lambda c: (load[by_cat[c][0]], rng.random()))
        chosen.append(by_cat[cat].pop(0))
        taken[cat] = taken.get(cat, 0) + 1
    rng.shuffle(chosen)
    return chosen


class Controller:
    """Per-process cache of the :class:`StudyState` of one served study (thread-safe; at most one recompute at a
    time, others keep using the previous state). ``clock``: seconds, monotonic (injectable for simulations).

    ``background=True`` (the server): a stale state is returned at once and recomputed in a background thread, so
    no request waits for the statistics; with ``max_cpu_share`` (the server: 0.05) the interval stretches so that
    slow recomputations (large studies) take at most that share of one core. ``background=False``: recompute in the
    calling thread (simulations, where ``clock`` is simulated time)."""

    def __init__(self, study, db, *, refresh_s: float = REFRESH_S, clock=time.monotonic, background: bool = False,
                 max_cpu_share: float | None = None, shared: bool = False):
        self.study, self.db, self.refresh_s, self.clock = study, db, refresh_s, clock
        self.background, self.max_cpu_share, self.shared = background, max_cpu_share, shared
        self._state: StudyState | None = None
        self._at = -math.inf
        self._cost = 0.0
        self._lock = threading.Lock()
        self._version: tuple = ()
        self.recomputes = 0

    def interval(self) -> float:
        """Seconds between recomputations: ``refresh_s``, longer when one takes more than ``max_cpu_share`` of it."""
        return max(self.refresh_s, self._cost / self.max_cpu_share if self.max_cpu_share else 0.0)

    def state(self, *, force: bool = False) -> StudyState:
        """The cached state, recomputed when older than :meth:`interval` (or ``force``)."""
        stale = force or self._state is None or self.clock() - self._at >= self.interval()
        if not stale:
            return self._state
        first = self._state is None or force
        if self._lock.acquire(blocking=first):
            if self.background and not first:
                threading.Thread(target=self._refresh, daemon=True, name="adaptive-refresh").start()
            else:
                self._refresh()
        return self._state

    def _refresh(self) -> None:
        """Recompute, or with ``shared`` take another worker's fresh result (the caller holds ``_lock``; released
        here)."""
        try:
            if self.shared and self._take_shared():
                return
            t0 = time.perf_counter()
            self._state = self._compute()
            self._cost = time.perf_counter() - t0
            self._at = self.clock()
            self.recomputes += 1
            if self.shared:
                adaptive_share.publish(self.db, self._state)
        except Exception:  # noqa: BLE001 - keep serving with the previous state; the next request retries
            log.exception("adaptive study state could not be recomputed")
            if self._state is None:
                raise
        finally:
            self._lock.release()

    def _take_shared(self) -> bool:
        """True when the shared state is fresh, or another worker is computing it (then the shared or current state
        is kept); False when this worker claimed the recomputation."""
        now = utcnow()
        fresh_after = now - dt.timedelta(seconds=self.interval())
        shared = adaptive_share.read(self.db, StudyState)
        if shared is not None and shared.computed_at >= fresh_after:
            self._state, self._at = shared, self.clock()
            return True
        if adaptive_share.claim(self.db, now=now, stale_before=fresh_after):
            return False
        if shared is not None or self._state is not None:
            self._state = shared or self._state
            self._at = self.clock() - self.interval() / 2  # look again soon
            return True
        return False  # first start and nothing shared yet: compute here

    def _counts(self, conn) -> tuple[int, int, dict[str, int]]:
        cutoff = utcnow() - dt.timedelta(minutes=self.study.settings.session_timeout_minutes)
        fin, flight = conn.execute(SQL_RATERS, {"cutoff": cutoff, "no": False}).one()
        rows = conn.execute(text(
            f"SELECT t.item, count(*) FROM trials t JOIN sessions s ON s.id = t.session_id WHERE t.kind = '{_MUSHRA}' "
            f"AND t.submitted_at IS NULL AND s.state = '{_ACTIVE}' AND s.last_seen >= :cutoff AND s.screened_out = :no "
            f"AND s.excluded = :no AND {_STARTED.format(s='s')} GROUP BY t.item"), {"cutoff": cutoff, "no": False}).all()
        cat_of, _ = _layout(self.study)
        pending: dict[str, int] = {}
        for item, n in rows:  # raters in flight per category (at most one trial per item and session)
            cat = cat_of.get(item)
            if cat is not None:
                pending[cat] = max(pending.get(cat, 0), int(n))
        return int(fin or 0), int(flight or 0), pending

    def fresh(self, *, plan: bool = True) -> StudyState:
        """A newly computed state, with the raters still needed (the dashboard; not cached)."""
        return self._compute(plan=plan)

    def _compute(self, *, plan: bool = False) -> StudyState:
        with self.db.reader.connect() as conn:
            finished, in_flight, pending = self._counts(conn)
            version = tuple(conn.execute(SQL_VERSION, {"no": False}).one()) + (finished, in_flight,
                                                                               tuple(sorted(pending.items())))
            if not plan and self._state is not None and version == self._version:
                return dataclasses.replace(self._state, computed_at=utcnow())  # nothing changed since the last
            frame = ratings_frame(conn, self.study)
        st = evaluate(frame, self.study, finished=finished, in_flight=in_flight, pending=pending, plan=plan)
        if not plan:
            self._version = version
        return st

    def assign(self, s, load: dict[str, int], rng: random.Random, *, platform: str) -> list[str]:
        """Items for a new session (called inside the session-creation transaction ``s``), or 409
        ``study_complete`` when every target is met or the budget is spent (in-progress sessions included).
        Uses the cached state (the caller refreshed it before taking the write lock; refreshing here could wait
        for that lock)."""
        st = self._state if self._state is not None else self._compute()
        if st.complete:
            raise closed_error(st, self.study.settings, platform=platform)
        cap = self.study.settings.max_raters
        if cap is not None:
            cutoff = utcnow() - dt.timedelta(minutes=self.study.settings.session_timeout_minutes)
            fin, flight = s.execute(SQL_RATERS, {"cutoff": cutoff, "no": False}).one()
            if int(fin or 0) + int(flight or 0) >= cap:
                raise closed_error(dataclasses.replace(st, status=BUDGET, finished=int(fin or 0),
                                                       in_flight=int(flight or 0)), self.study.settings,
                                   platform=platform)
        cat_of, _ = _layout(self.study)
        return choose_items(st.need, cat_of, load, self.study.settings.trials_per_rater, rng)


def return_url(settings, platform: str) -> str | None:
    """Where a participant turned away goes back to: Prolific's completion URL with the screened-out ("return")
    code; None for other platforms (MTurk workers return the HIT themselves)."""
    if platform == "prolific":
        return f"https://app.prolific.com/submissions/complete?cc={settings.screened_out_code}"
    return None


def closed_error(st: StudyState, settings, *, platform: str) -> ApiError:
    msg = ("This study is complete: it has all the ratings it needs. Thank you for your interest; please return "
           "it on your crowd platform (you have not started, so nothing is lost).")
    err = ApiError(409, "study_complete", msg)
    err.extra = {"reason": st.status, "return_url": return_url(settings, platform)}
    return err


def dashboard(st: StudyState) -> dict[str, Any]:
    """Rows for the admin page: precision per (category, condition), decisions, and the status line."""
    prec = [{**r, "half_width": None if not math.isfinite(r["half_width"]) else r["half_width"],
             "mean": None if not math.isfinite(r["mean"]) else r["mean"]} for r in st.precision.to_dict("records")]
    res = [{**r, "cs_low": r["cs_low"] if math.isfinite(r["cs_low"]) else None,
            "cs_high": r["cs_high"] if math.isfinite(r["cs_high"]) else None,
            "difference": r["difference"] if math.isfinite(r["difference"]) else None}
           for r in st.resolve.to_dict("records")]
    return {"status": st.status, "reason": st.reason(), "precision": prec, "resolve": res,
            "computed_at": st.computed_at, "screened": st.raters_screened, "counted": st.raters_counted}
