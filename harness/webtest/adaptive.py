"""Adaptive studies: steer new sessions to the items whose conditions are furthest from their precision target,
and close the study when every target is met or the rater budget is spent.

The statistics (:mod:`harness.webtest.adaptive_state`, pure) are :mod:`harness.inference.sequential` on the ratings saved so far (the analysis' rater-aware estimator,
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

import pandas as pd
from sqlalchemy import and_, case, func, or_, select

from harness.ratings.models import Rating, Session, Trial, utcnow
from harness.vocabulary import SessionState, TrialKind
from harness.webtest import adaptive_share
from harness.webtest.adaptive_state import (  # noqa: F401 - re-exported: the pure half lives there
    BUDGET, MET, OPEN, StudyState, _layout, choose_items, dashboard, evaluate, screen, targets_of,
)
from harness.webtest.flow import STARTED, ApiError

log = logging.getLogger(__name__)
REFRESH_S = 5.0  # seconds between recomputations of the study state (per worker process)

_COUNTS = and_(Session.screened_out.is_(False), Session.excluded.is_(False))  # sessions whose ratings count
SQL_RATINGS = (
    select(Session.id.label("session_id"), func.coalesce(Session.participant_id, Session.public_id).label("rater"),
           Trial.item, Rating.condition, Rating.score, Rating.plays, Rating.listen_ms, Rating.submitted_at,
           func.coalesce(Trial.flags, "").label("trial_flags"))
    .select_from(Rating).join(Trial, Trial.id == Rating.trial_id).join(Session, Session.id == Trial.session_id)
    .where(Trial.kind == TrialKind.MUSHRA, _COUNTS))
_NOT_COUNTED = or_(Session.screened_out.is_(True), Session.excluded.is_(True))
SQL_VERSION = select(  # changes whenever a rating is saved or a session is screened out or (un)excluded
    select(func.count()).select_from(Rating).scalar_subquery(),
    select(func.count()).select_from(Session).where(_NOT_COUNTED).scalar_subquery(),
    select(func.sum(Session.id)).where(_NOT_COUNTED).scalar_subquery())


def _raters_query(cutoff: dt.datetime):
    """Finished sessions, and sessions in flight: active within the timeout and started (a session that never
    submitted anything reserves nothing, as in flow.item_load, so idle sessions cannot use up the budget)."""
    in_flight = and_(Session.state == SessionState.ACTIVE, Session.last_seen >= cutoff, STARTED)
    return select(func.sum(case((Session.state == SessionState.DONE, 1), else_=0)),
                  func.sum(case((in_flight, 1), else_=0))).where(_COUNTS)


def _raters_bound_query(cutoff: dt.datetime):
    """An upper bound of :func:`_raters_query`'s sum (started or not), without the per-session EXISTS: the exact
    count runs only when this reaches the cap."""
    return select(func.count()).select_from(Session).where(_COUNTS, or_(
        Session.state == SessionState.DONE, and_(Session.state == SessionState.ACTIVE, Session.last_seen >= cutoff)))


def ratings_frame(conn, study) -> pd.DataFrame:
    """The ratings that count so far (long format, the analysis' columns that screening needs)."""
    rows = conn.execute(SQL_RATINGS).all()
    df = pd.DataFrame(rows, columns=["session_id", "rater", "item", "condition", "score", "plays", "listen_ms",
                                     "submitted_at", "trial_flags"])
    cat_of, _ = _layout(study)
    kinds = {c.id: c.kind for c in study.manifest.conditions}
    df["category"] = df["item"].map(cat_of)
    df["kind"] = df["condition"].map(kinds).fillna("codec")
    df["score"] = df["score"].astype(float)
    return df


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
        fin, flight = conn.execute(_raters_query(cutoff)).one()
        rows = conn.execute(
            select(Trial.item, func.count()).join(Session, Session.id == Trial.session_id)
            .where(Trial.kind == TrialKind.MUSHRA, Trial.submitted_at.is_(None), Session.state == SessionState.ACTIVE,
                   Session.last_seen >= cutoff, _COUNTS, STARTED)
            .group_by(Trial.item)).all()
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
            version = tuple(conn.execute(SQL_VERSION).one()) + (finished, in_flight,
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
            bound = s.execute(_raters_bound_query(cutoff)).scalar_one()  # no per-session EXISTS: cheap
            fin, flight = s.execute(_raters_query(cutoff)).one() if int(bound or 0) >= cap else (0, 0)
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
