"""Sessions: creation with balanced item assignment (least-rated items first, abandoned sessions release
theirs), the step list of a session, and the API error type. The hot paths (next step, submission) are in
:mod:`.steps`."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session as OrmSession, aliased

from harness.webtest import headphone
from harness.ratings.models import Session, Trial, utcnow
from harness.webtest.study import Study
from harness.vocabulary import TrialKind

QUESTIONS = (
    {"id": "device", "label": "What did you listen with?", "type": "choice",
     "options": ["closed headphones", "open headphones", "earbuds", "loudspeakers", "other"]},
    {"id": "environment", "label": "How quiet was your surrounding?", "type": "choice",
     "options": ["very quiet", "quiet", "some noise", "noisy"]},
    {"id": "hearing", "label": "Do you have any known hearing problems?", "type": "choice",
     "options": ["no", "yes", "prefer not to say"]},
    {"id": "experience", "label": "Have you taken part in listening tests before?", "type": "choice",
     "options": ["never", "once or twice", "often", "I work in audio"]},
    {"id": "comments", "label": "Comments (optional)", "type": "text", "options": []},
)
QUESTION_IDS = {q["id"] for q in QUESTIONS}
ASSIGN_LOCK_KEY = 0x6D757368  # PostgreSQL advisory lock held while a new session picks its items


class ApiError(Exception):
    """A client error answered as JSON ``{"error": code, "message": text}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def opaque() -> str:
    return secrets.token_urlsafe(12)


def public_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


_done_trial = aliased(Trial)
# a session that has submitted at least one step (training included): only such sessions hold reservations
STARTED = exists().where(_done_trial.session_id == Session.id, _done_trial.submitted_at.is_not(None))


def item_load(s: OrmSession, study: Study, *, with_unstarted: bool = False) -> dict[str, int]:
    """Ratings per item that are done or reserved: submitted MUSHRA trials plus the unsubmitted ones of sessions
    that have submitted at least one step (training included) and were active within the timeout. A session
    that never submitted anything reserves nothing, so idle or scripted sessions cannot lock a study (they never
    make it "full"); abandoned sessions release their items. Screened-out and excluded sessions never count.

    ``with_unstarted=True`` also counts the unsubmitted trials of recent sessions that have *not* submitted
    anything yet: new sessions are steered away from those items too (balance when many raters start at once),
    without those sessions ever holding a reservation. It is one statement, so a session that submits its first
    step meanwhile is counted exactly once (two statements could miss it under PostgreSQL's read committed)."""
    cutoff = utcnow() - dt.timedelta(minutes=study.settings.session_timeout_minutes)
    if with_unstarted:
        which = or_(Trial.submitted_at.is_not(None), Session.last_seen >= cutoff)
    else:
        which = or_(Trial.submitted_at.is_not(None), and_(Session.last_seen >= cutoff, STARTED))
    rows = s.execute(
        select(Trial.item, func.count()).join(Session, Trial.session_id == Session.id)
        .where(Trial.kind == TrialKind.MUSHRA, Session.screened_out.is_(False), Session.excluded.is_(False), which)
        .group_by(Trial.item)).all()
    load = {item: 0 for item in study.items}
    for item, n in rows:
        if item in load:
            load[item] = int(n)
    return load


def choose_items(load: dict[str, int], k: int, rng: random.Random) -> list[str]:
    """The ``k`` least-loaded items (random tie-break), in random presentation order."""
    ranked = sorted(load, key=lambda item: (load[item], rng.random()))
    chosen = ranked[:k]
    rng.shuffle(chosen)
    return chosen


def _stimulus_trial(study: Study, kind: str, item: str, index: int, rng: random.Random) -> Trial:
    conds = list(study.conditions[item])
    rng.shuffle(conds)  # order randomised per rater and per trial
    return Trial(kind=kind, item=item, order_index=index, stimuli=[[opaque(), c] for c in conds],
                 reference_id=opaque())


def create_session(s: OrmSession, study: Study, *, participant_id: str | None, platform: str,
                   crowd: dict[str, str], device: dict[str, Any], user_agent: str, adaptive=None) -> Session:
    """Create a session and return it. One session per participant id *and platform* (ids are stored as
    ``platform:id``, so a Prolific and an MTurk id never collide). An id that already has a session is refused
    (409): the id alone never hands over a session; the browser that holds its token, or the resume link, does.
    ``adaptive``: the study's :class:`harness.webtest.adaptive.Controller` when it has precision targets."""
    settings = study.settings
    if platform == "direct" and not settings.allow_direct:
        raise ApiError(403, "crowd_id_required", "this study only accepts participants from its crowd platform; "
                                                 "open it from the link on Prolific or MTurk")
    if participant_id:
        participant_id = f"{platform}:{participant_id}"
        if s.scalar(select(Session.id).where(Session.participant_id == participant_id)) is not None:
            raise ApiError(409, "participant_has_session",
                           "this participant id has already started the study in another browser or device. "
                           "Continue there, or open the resume link shown at the bottom of that page.")
    if s.get_bind().dialect.name == "postgresql":  # serialise assignment (SQLite's BEGIN IMMEDIATE already does)
        s.execute(select(func.pg_advisory_xact_lock(ASSIGN_LOCK_KEY)))
    steer = item_load(s, study, with_unstarted=True)  # where new sessions go (never blocks): see item_load
    rng = random.Random(secrets.randbits(64))
    if adaptive is not None:  # adaptive study (harness.webtest.adaptive): steered items, or study_complete
        items = adaptive.assign(s, steer, rng, platform=platform)
    elif min(item_load(s, study).values()) >= settings.ratings_per_item:  # reservations only: is it full?
        raise ApiError(409, "study_full", "every item has all the ratings it needs; thank you for your interest")
    else:
        items = choose_items(steer, settings.trials_per_rater, rng)
    token = secrets.token_urlsafe(24)
    sess = Session(token=token, public_id=public_id(token), participant_id=participant_id or None,
                   platform=platform, crowd=crowd, device=device, user_agent=user_agent[:512],
                   assigned_items=items)
    trials: list[Trial] = []
    # training on items this rater will not rate; only a study with too few items (warned when it is loaded)
    # falls back to rated ones
    unrated = [i for i in study.items if i not in items]
    pool = rng.sample(unrated, len(unrated)) + rng.sample(items, len(items))
    for t_item in pool[:settings.training_items]:
        trials.append(_stimulus_trial(study, TrialKind.TRAINING, t_item, len(trials), rng))
    if settings.headphone_check:
        trials.append(Trial(kind=TrialKind.HEADPHONE, order_index=len(trials),
                            stimuli=[[opaque(), q, a] for q, a in headphone.make_layout(rng)]))
    for item in items:
        trials.append(_stimulus_trial(study, TrialKind.MUSHRA, item, len(trials), rng))
    trials.append(Trial(kind=TrialKind.QUESTIONNAIRE, order_index=len(trials), stimuli=[]))
    sess.trials = trials
    s.add(sess)
    return sess


def get_session(s: OrmSession, token: str) -> Session:
    sess = s.scalar(select(Session).where(Session.token == token)) if len(token) <= 64 else None
    if sess is None:
        raise ApiError(404, "unknown_session", "no such session; start again from the study link")
    return sess
