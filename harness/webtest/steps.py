"""The hot paths of the JSON API, as statements on the typed models executed on a connection: the next step of a session and a validated, idempotent
trial submission saved in ONE short write transaction.

Reads and validation happen before the write transaction; the write claims the trial with
``UPDATE trials SET submitted_at=... WHERE id=? AND submitted_at IS NULL`` so of two identical concurrent
submissions exactly one writes (the other answers ``already saved``), on SQLite and PostgreSQL alike. The UNIQUE
(trial, condition) constraint on ratings is the last line of defence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String, bindparam, func, insert, select, update
from sqlalchemy.orm import aliased

from harness.webtest import headphone, schemas
from harness.ratings.db import Database
from harness.webtest.flow import QUESTION_IDS, QUESTIONS, ApiError
from harness.ratings.models import HeadphoneAnswer, Rating, Session, StimulusFetch, Trial, utcnow
from harness.webtest.study import Study
from harness.vocabulary import SessionState, TrialKind

R, H = Rating.__table__, HeadphoneAnswer.__table__
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen resolution (the abandonment timeout is in minutes)

# Statements built once from the typed models (SQLAlchemy caches their compiled form), the same on SQLite and
# PostgreSQL; they run on every API request.
_NOW = bindparam("now", type_=DateTime)
_MUSHRA_TOTAL = (select(func.count()).where(Trial.session_id == Session.id, Trial.kind == TrialKind.MUSHRA)
                 .scalar_subquery().label("total"))
_MUSHRA_DONE = (select(func.count(Trial.submitted_at))
                .where(Trial.session_id == Session.id, Trial.kind == TrialKind.MUSHRA).scalar_subquery().label("done"))
SQL_SESSION = select(Session.id, Session.state, Session.screened_out, Session.platform, Session.last_seen,
                     _MUSHRA_TOTAL, _MUSHRA_DONE).where(Session.token == bindparam("token"))
SQL_NEXT = (select(Trial.id, Trial.kind, Trial.stimuli, Trial.reference_id, Trial.issued_at)
            .where(Trial.session_id == bindparam("sid"), Trial.submitted_at.is_(None))
            .order_by(Trial.order_index).limit(1))
SQL_ISSUE = update(Trial).where(Trial.id == bindparam("tid"), Trial.issued_at.is_(None)).values(issued_at=_NOW)
SQL_TOUCH = update(Session).where(Session.id == bindparam("sid")).values(last_seen=_NOW)
SQL_TRIAL = (select(Trial.id, Trial.session_id, Trial.kind, Trial.item, Trial.stimuli, Trial.reference_id,
                    Trial.issued_at, Trial.submitted_at, Trial.payload_hash, Session.state).join(Session, Session.id == Trial.session_id)
             .where(Trial.id == bindparam("tid"), Session.token == bindparam("token")))
SQL_CLAIM = (update(Trial).where(Trial.id == bindparam("tid"), Trial.submitted_at.is_(None))
             .values(submitted_at=_NOW, payload_hash=bindparam("hash", type_=String),
                     telemetry=bindparam("tel", type_=JSON), answers=bindparam("ans", type_=JSON),
                     flags=bindparam("flags", type_=String)))
SQL_FETCHES = select(StimulusFetch.stimulus, StimulusFetch.fetched_at).where(StimulusFetch.trial_id == bindparam("tid"))
_NEXT_OPEN = aliased(Trial)
SQL_ISSUE_NEXT = (  # issue the session's next step in the submission's transaction (saves a write later)
    update(Trial).where(Trial.issued_at.is_(None), Trial.id == (
        select(_NEXT_OPEN.id).where(_NEXT_OPEN.session_id == bindparam("sid"), _NEXT_OPEN.submitted_at.is_(None))
        .order_by(_NEXT_OPEN.order_index).limit(1).scalar_subquery())).values(issued_at=_NOW))
SQL_REMAINING = (select(func.count()).select_from(Trial)
                 .where(Trial.session_id == bindparam("sid"), Trial.submitted_at.is_(None)))
SQL_HASH = select(Trial.payload_hash).where(Trial.id == bindparam("tid"))
SQL_FINISH = (update(Session).where(Session.id == bindparam("sid"))
              .values(last_seen=_NOW, state=bindparam("new_state", type_=Session.__table__.c.state.type),
                      screened_out=bindparam("screened", type_=Boolean),
                      completed_at=bindparam("done", type_=DateTime)))


class _Raced(Exception):
    """Another request saved this trial first; the write transaction is rolled back."""


def _session(conn, token: str):
    row = conn.execute(SQL_SESSION, {"token": token}).first() if len(token) <= 64 else None
    if row is None:
        raise ApiError(404, "unknown_session", "no such session; start again from the study link")
    return row


def done_step(study: Study, sess) -> dict[str, Any]:
    code = study.settings.screened_out_code if sess.screened_out else study.settings.completion_code
    out: dict[str, Any] = {"kind": "done", "completion_code": code, "screened_out": bool(sess.screened_out)}
    if sess.platform == "prolific":
        out["completion_url"] = f"https://app.prolific.com/submissions/complete?cc={code}"
    return out


def next_step(db: Database, study: Study, token: str, *, audio_url) -> dict[str, Any]:
    """The first unsubmitted step of the session (marked issued on first delivery), or ``done``."""
    with db.reader.connect() as conn:
        sess = _session(conn, token)
        trial = None
        if sess.state == SessionState.ACTIVE:
            trial = conn.execute(SQL_NEXT, {"sid": sess.id}).first()
    now = utcnow()
    if (trial is not None and trial.issued_at is None) or now - sess.last_seen > TOUCH_EVERY:
        with db.write() as conn:
            if trial is not None and trial.issued_at is None:
                conn.execute(SQL_ISSUE, {"now": now, "tid": trial.id})
            conn.execute(SQL_TOUCH, {"now": now, "sid": sess.id})
    if trial is None:
        return done_step(study, sess)
    out: dict[str, Any] = {"kind": trial.kind, "trial": trial.id,
                           "progress": {"done": sess.done, "total": sess.total}}
    if trial.kind in (TrialKind.TRAINING, TrialKind.MUSHRA):
        rules = study.settings
        out.update(reference=audio_url(trial.reference_id),
                   stimuli=[{"id": oid, "url": audio_url(oid)} for oid, _ in trial.stimuli],
                   sample_rate=study.sample_rate,
                   rules={"require_all_played": rules.require_all_played,
                          "require_one_at_100": rules.require_one_at_100 and trial.kind == TrialKind.MUSHRA,
                          "min_loop_ms": 500})
    elif trial.kind == TrialKind.HEADPHONE:
        out.update(tests=[{"id": row[0], "url": audio_url(row[0])} for row in trial.stimuli], choices=[1, 2, 3],
                   sample_rate=study.sample_rate, pass_min_correct=headphone.PASS_MIN_CORRECT)
    else:
        out.update(questions=list(QUESTIONS))
    return out


def submit(db: Database, study: Study, token: str, trial_id: int, payload: Any) -> dict[str, Any]:
    """Validate and save one step. Same payload again: ``already saved``; a different one: 409."""
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_payload", "the body must be a JSON object")
    extra = set(payload) - {"ratings", "answers", "telemetry"}
    if extra:
        raise ApiError(400, "unknown_fields", f"unknown fields {sorted(extra)}")
    with db.reader.connect() as conn:
        trial = conn.execute(SQL_TRIAL, {"tid": trial_id, "token": token}).first()
        if trial is None:
            _session(conn, token)  # 404 unknown_session if the token is wrong
            raise ApiError(404, "unknown_trial", f"trial {trial_id} does not belong to this session")
        fetches = {} if trial.kind == "questionnaire" else dict(
            conn.execute(SQL_FETCHES, {"tid": trial.id}).all())
    digest, body = _canonical(trial.kind, payload)
    tel = schemas.validate(payload.get("telemetry"), schemas.TELEMETRY, name="telemetry", code="bad_telemetry")
    for key in ("plays", "listen_ms"):
        stray = set(tel.get(key, {})) - {row[0] for row in trial.stimuli}
        if stray:
            raise ApiError(400, "bad_telemetry", f"telemetry.{key} names stimuli not in this trial")
    if trial.submitted_at is not None:
        return _replay(trial.id, trial.payload_hash, digest)
    if trial.issued_at is None:
        raise ApiError(409, "not_issued", f"trial {trial.id} has not been issued yet; GET .../next first")
    if trial.state != SessionState.ACTIVE:
        raise ApiError(409, "session_closed", f"this session is {trial.state}")
    now = utcnow()
    flags = listening_flags(study, trial, fetches, now)
    if flags and study.settings.require_full_listening:
        raise ApiError(422, "not_listened", _NOT_LISTENED[flags[0]])
    ratings, hp_rows, screened = [], [], False
    if trial.kind in (TrialKind.MUSHRA, TrialKind.TRAINING):
        ratings = _ratings(study, trial, body, tel, now)
    elif trial.kind == TrialKind.HEADPHONE:
        hp_rows, screened = _headphone(trial.session_id, trial, body)
    else:
        _questionnaire(body)
    try:
        with db.write() as conn:  # one transaction per submitted trial
            claimed = conn.execute(SQL_CLAIM, {
                "now": now, "hash": digest, "tel": tel, "tid": trial.id, "flags": ",".join(flags),
                "ans": body if trial.kind in (TrialKind.HEADPHONE, TrialKind.QUESTIONNAIRE) else None})
            if claimed.rowcount != 1:
                raise _Raced
            if ratings:
                conn.execute(insert(R), ratings)
            if hp_rows:
                conn.execute(insert(H), hp_rows)
            if screened:
                state, done = SessionState.SCREENED_OUT, None
            elif not conn.execute(SQL_REMAINING, {"sid": trial.session_id}).scalar():
                state, done = SessionState.DONE, now
            else:
                state, done = SessionState.ACTIVE, None
                conn.execute(SQL_ISSUE_NEXT, {"now": now, "sid": trial.session_id})
            conn.execute(SQL_FINISH, {"now": now, "new_state": state, "screened": screened, "done": done,
                                      "sid": trial.session_id})
    except _Raced:
        with db.reader.connect() as conn:
            saved = conn.execute(SQL_HASH, {"tid": trial.id}).scalar()
        return _replay(trial.id, saved, digest)
    return {"status": "saved", "trial": trial.id}


_NOT_LISTENED = {
    "not_fetched": "the sounds of this page were never loaded; play every sound before rating",
    "too_fast": "this page was answered sooner than its sounds can be heard; listen to every sound, then retry",
}


def listening_flags(study: Study, trial, fetches: dict[str, dt.datetime], now: dt.datetime) -> list[str]:
    """Server-side listening evidence of a step: ``not_fetched`` when a stimulus (or the open reference) was
    never downloaded, ``too_fast`` when the submission came sooner than ``min_listen_fraction`` x (number of
    stimuli x excerpt length) after the first download. Questionnaires carry no audio."""
    if trial.kind == "questionnaire":
        return []
    needed = {row[0] for row in trial.stimuli} | ({trial.reference_id} if trial.reference_id else set())
    if not needed <= set(fetches):
        return ["not_fetched"]
    excerpt_s = (headphone.trial_seconds() if trial.kind == "headphone"
                 else study.frames[trial.item] / study.sample_rate)
    required_s = study.settings.min_listen_fraction * len(trial.stimuli) * excerpt_s
    heard_s = (now - min(fetches.values())).total_seconds()
    return ["too_fast"] if heard_s < required_s else []


def _replay(trial_id: int, saved_hash: str | None, digest: str) -> dict[str, Any]:
    if saved_hash == digest:
        return {"status": "already saved", "trial": trial_id}
    raise ApiError(409, "already_submitted", f"trial {trial_id} was already saved with different answers")


def _canonical(kind: str, payload: dict[str, Any]) -> tuple[str, Any]:
    body = payload.get("answers") if kind in (TrialKind.HEADPHONE, TrialKind.QUESTIONNAIRE) else payload.get("ratings", {})
    return hashlib.sha256(json.dumps([kind, body], sort_keys=True).encode()).hexdigest(), body


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ApiError(422, "bad_score", f"{where}: score must be a number, got {v!r}")
    if not 0 <= v <= 100:
        raise ApiError(422, "score_out_of_range", f"{where}: score {v!r} is outside 0..100")
    return float(v)


def _per_stimulus(tel: dict[str, Any], key: str, oid: str) -> float:
    d = tel.get(key)
    v = d.get(oid, 0) if isinstance(d, dict) else 0
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else 0.0


def _ratings(study: Study, trial, ratings: Any, tel: dict, now) -> list[dict[str, Any]]:
    if not isinstance(ratings, dict):
        raise ApiError(400, "bad_ratings", "ratings must be an object {stimulus_id: score}")
    issued = {oid: cond for oid, cond in trial.stimuli}
    unknown = set(ratings) - set(issued)
    if unknown:
        raise ApiError(422, "unknown_stimuli", f"ratings for stimuli not issued in this trial: {sorted(unknown)}")
    scores = {oid: _number(v, f"stimulus {oid}") for oid, v in ratings.items()}
    if trial.kind == TrialKind.TRAINING:
        return []  # training ratings are optional and never stored as ratings
    missing = set(issued) - set(scores)
    if missing:
        raise ApiError(422, "missing_ratings", f"{len(missing)} stimuli have no rating: {sorted(missing)}")
    if study.settings.require_one_at_100 and max(scores.values()) < 100:
        raise ApiError(422, "none_at_100", "rate at least one stimulus 100 (the hidden reference is among them)")
    return [{"trial_id": trial.id, "condition": issued[oid], "score": score, "submitted_at": now,
             "plays": int(_per_stimulus(tel, "plays", oid)), "listen_ms": _per_stimulus(tel, "listen_ms", oid)}
            for oid, score in scores.items()]


def _headphone(session_id: int, trial, answers: Any) -> tuple[list[dict[str, Any]], bool]:
    layout = {row[0]: (i, row[1]) for i, row in enumerate(trial.stimuli)}
    if not isinstance(answers, dict) or set(answers) != set(layout):
        raise ApiError(422, "bad_answers", "answers must give 1, 2 or 3 for each of the six test ids")
    rows = []
    for oid, a in answers.items():
        if isinstance(a, bool) or a not in (1, 2, 3):
            raise ApiError(422, "bad_answers", f"answer for {oid} must be 1, 2 or 3, got {a!r}")
        i, correct = layout[oid]
        rows.append({"trial_id": trial.id, "session_id": session_id, "test_index": i, "correct": correct,
                     "answer": a})
    n_correct = sum(r["answer"] == r["correct"] for r in rows)
    return rows, n_correct < headphone.PASS_MIN_CORRECT


def _questionnaire(answers: Any) -> None:
    if not isinstance(answers, dict):
        raise ApiError(400, "bad_answers", "answers must be an object {question_id: answer}")
    unknown = set(answers) - QUESTION_IDS
    if unknown:
        raise ApiError(422, "unknown_questions", f"unknown questions {sorted(unknown)}")
    for k, v in answers.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool) or len(str(v)) > 2000:
            raise ApiError(422, "bad_answers", f"answer to {k!r} must be a short text")
