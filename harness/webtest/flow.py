"""The rater's path through a study: session creation with balanced item assignment, the next step, and
validated, idempotent, one-transaction trial submission. Used by the JSON API (:mod:`.api`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import secrets
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session as OrmSession

from harness.webtest import headphone
from harness.webtest.models import HeadphoneAnswer, Rating, Session, Trial, utcnow
from harness.webtest.study import Study

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


def item_load(s: OrmSession, study: Study) -> dict[str, int]:
    """Ratings per item that are done or promised: submitted MUSHRA trials plus the unsubmitted ones of sessions
    active within the timeout (abandoned sessions release their items). Screened-out sessions never count."""
    cutoff = utcnow() - dt.timedelta(minutes=study.settings.session_timeout_minutes)
    rows = s.execute(
        select(Trial.item, func.count()).join(Session, Trial.session_id == Session.id)
        .where(Trial.kind == "mushra", Session.screened_out.is_(False), Session.excluded.is_(False),
               or_(Trial.submitted_at.is_not(None), Session.last_seen >= cutoff))
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
                   crowd: dict[str, str], device: dict[str, Any], user_agent: str) -> tuple[Session, bool]:
    """Return ``(session, created)``; an existing participant id resumes its session (one per participant)."""
    if participant_id:
        existing = s.scalar(select(Session).where(Session.participant_id == participant_id))
        if existing is not None:
            existing.last_seen = utcnow()
            return existing, False
    settings = study.settings
    if s.get_bind().dialect.name == "postgresql":  # serialise assignment (SQLite's BEGIN IMMEDIATE already does)
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ASSIGN_LOCK_KEY})
    load = item_load(s, study)
    if min(load.values()) >= settings.ratings_per_item:
        raise ApiError(409, "study_full", "every item has all the ratings it needs; thank you for your interest")
    rng = random.Random(secrets.randbits(64))
    items = choose_items(load, settings.trials_per_rater, rng)
    token = secrets.token_urlsafe(24)
    sess = Session(token=token, public_id=public_id(token), participant_id=participant_id or None,
                   platform=platform, crowd=crowd, device=device, user_agent=user_agent[:512],
                   assigned_items=items)
    trials: list[Trial] = []
    others = [i for i in study.items if i not in items] or list(study.items)
    for t_item in rng.sample(others, min(settings.training_items, len(others))):
        trials.append(_stimulus_trial(study, "training", t_item, len(trials), rng))
    if settings.headphone_check:
        trials.append(Trial(kind="headphone", order_index=len(trials),
                            stimuli=[[opaque(), q, a] for q, a in headphone.make_layout(rng)]))
    for item in items:
        trials.append(_stimulus_trial(study, "mushra", item, len(trials), rng))
    trials.append(Trial(kind="questionnaire", order_index=len(trials), stimuli=[]))
    sess.trials = trials
    s.add(sess)
    return sess, True


def get_session(s: OrmSession, token: str) -> Session:
    sess = s.scalar(select(Session).where(Session.token == token)) if len(token) <= 64 else None
    if sess is None:
        raise ApiError(404, "unknown_session", "no such session; start again from the study link")
    return sess


def done_step(study: Study, sess: Session) -> dict[str, Any]:
    screened = sess.screened_out
    code = study.settings.screened_out_code if screened else study.settings.completion_code
    out: dict[str, Any] = {"kind": "done", "completion_code": code, "screened_out": screened}
    if sess.platform == "prolific":
        out["completion_url"] = f"https://app.prolific.com/submissions/complete?cc={code}"
    return out


def next_step(s: OrmSession, study: Study, sess: Session, *, audio_url) -> dict[str, Any]:
    """The first unsubmitted step of the session (marks it issued), or ``done``."""
    sess.last_seen = utcnow()
    if sess.state != "active":
        return done_step(study, sess)
    trial = next((t for t in sess.trials if t.submitted_at is None), None)
    if trial is None:
        return done_step(study, sess)
    if trial.issued_at is None:
        trial.issued_at = utcnow()
    mushra = [t for t in sess.trials if t.kind == "mushra"]
    out: dict[str, Any] = {"kind": trial.kind, "trial": trial.id,
                           "progress": {"done": sum(t.submitted_at is not None for t in mushra),
                                        "total": len(mushra)}}
    if trial.kind in ("training", "mushra"):
        rules = study.settings
        out.update(reference=audio_url(trial.reference_id),
                   stimuli=[{"id": oid, "url": audio_url(oid)} for oid, _ in trial.stimuli],
                   sample_rate=study.sample_rate,
                   rules={"require_all_played": rules.require_all_played,
                          "require_one_at_100": rules.require_one_at_100 and trial.kind == "mushra",
                          "min_loop_ms": 500})
    elif trial.kind == "headphone":
        out.update(tests=[{"id": row[0], "url": audio_url(row[0])} for row in trial.stimuli], choices=[1, 2, 3],
                   sample_rate=study.sample_rate,
                   pass_min_correct=headphone.PASS_MIN_CORRECT)
    else:
        out.update(questions=list(QUESTIONS))
    return out


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ApiError(422, "bad_score", f"{where}: score must be a number, got {v!r}")
    if not 0 <= v <= 100:
        raise ApiError(422, "score_out_of_range", f"{where}: score {v!r} is outside 0..100")
    return float(v)


def _telemetry(payload: dict[str, Any]) -> dict[str, Any]:
    tel = payload.get("telemetry", {})
    if not isinstance(tel, dict):
        raise ApiError(400, "bad_telemetry", "telemetry must be a JSON object")
    return tel


def _per_stimulus(tel: dict[str, Any], key: str, oid: str) -> float:
    d = tel.get(key)
    v = d.get(oid, 0) if isinstance(d, dict) else 0
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else 0.0


def _canonical(kind: str, payload: dict[str, Any]) -> tuple[str, Any]:
    body = payload.get("answers") if kind in ("headphone", "questionnaire") else payload.get("ratings", {})
    return hashlib.sha256(json.dumps([kind, body], sort_keys=True).encode()).hexdigest(), body


def submit(s: OrmSession, study: Study, sess: Session, trial_id: int, payload: Any) -> dict[str, Any]:
    """Validate and store one step in the caller's transaction. Idempotent: the same payload again answers
    ``already saved``; a different one for a saved trial raises 409."""
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_payload", "the body must be a JSON object")
    extra = set(payload) - {"ratings", "answers", "telemetry"}
    if extra:
        raise ApiError(400, "unknown_fields", f"unknown fields {sorted(extra)}")
    trial = s.get(Trial, trial_id, with_for_update=True)
    if trial is None or trial.session_id != sess.id:
        raise ApiError(404, "unknown_trial", f"trial {trial_id} does not belong to this session")
    digest, body = _canonical(trial.kind, payload)
    tel = _telemetry(payload)
    if trial.submitted_at is not None:
        if trial.payload_hash == digest:
            return {"status": "already saved", "trial": trial.id}
        raise ApiError(409, "already_submitted", f"trial {trial.id} was already saved with different answers")
    if trial.issued_at is None:
        raise ApiError(409, "not_issued", f"trial {trial.id} has not been issued yet; GET .../next first")
    if sess.state != "active":
        raise ApiError(409, "session_closed", f"this session is {sess.state}")
    now = utcnow()
    if trial.kind in ("mushra", "training"):
        _store_ratings(s, study, trial, body, tel, now)
    elif trial.kind == "headphone":
        _store_headphone(s, sess, trial, body)
    else:
        _check_questionnaire(body)
    trial.answers = body if trial.kind in ("headphone", "questionnaire") else None
    trial.telemetry = tel
    trial.payload_hash = digest
    trial.submitted_at = now
    sess.last_seen = now
    if all(t.submitted_at is not None for t in sess.trials) and sess.state == "active":
        sess.state, sess.completed_at = "done", now
    s.flush()  # a concurrent duplicate fails here on the UNIQUE constraints, inside this transaction
    return {"status": "saved", "trial": trial.id}


def _store_ratings(s: OrmSession, study: Study, trial: Trial, ratings: Any, tel: dict, now) -> None:
    if not isinstance(ratings, dict):
        raise ApiError(400, "bad_ratings", "ratings must be an object {stimulus_id: score}")
    issued = {oid: cond for oid, cond in trial.stimuli}
    unknown = set(ratings) - set(issued)
    if unknown:
        raise ApiError(422, "unknown_stimuli", f"ratings for stimuli not issued in this trial: {sorted(unknown)}")
    scores = {oid: _number(v, f"stimulus {oid}") for oid, v in ratings.items()}
    if trial.kind == "training":
        return  # training ratings are optional and never stored as ratings
    missing = set(issued) - set(scores)
    if missing:
        raise ApiError(422, "missing_ratings", f"{len(missing)} stimuli have no rating: {sorted(missing)}")
    if study.settings.require_one_at_100 and max(scores.values()) < 100:
        raise ApiError(422, "none_at_100", "rate at least one stimulus 100 (the hidden reference is among them)")
    for oid, score in scores.items():
        s.add(Rating(trial_id=trial.id, condition=issued[oid], score=score, submitted_at=now,
                     plays=int(_per_stimulus(tel, "plays", oid)), listen_ms=_per_stimulus(tel, "listen_ms", oid)))


def _store_headphone(s: OrmSession, sess: Session, trial: Trial, answers: Any) -> None:
    layout = {row[0]: (i, row[1]) for i, row in enumerate(trial.stimuli)}
    if not isinstance(answers, dict) or set(answers) != set(layout):
        raise ApiError(422, "bad_answers", "answers must give 1, 2 or 3 for each of the six test ids")
    for oid, a in answers.items():
        if isinstance(a, bool) or a not in (1, 2, 3):
            raise ApiError(422, "bad_answers", f"answer for {oid} must be 1, 2 or 3, got {a!r}")
        i, correct = layout[oid]
        s.add(HeadphoneAnswer(trial_id=trial.id, session_id=sess.id, test_index=i, correct=correct, answer=a))
    n_correct = sum(int(answers[oid] == c) for oid, (_, c) in layout.items())
    if n_correct < headphone.PASS_MIN_CORRECT:
        sess.screened_out, sess.state = True, "screened_out"


def _check_questionnaire(answers: Any) -> None:
    if not isinstance(answers, dict):
        raise ApiError(400, "bad_answers", "answers must be an object {question_id: answer}")
    unknown = set(answers) - QUESTION_IDS
    if unknown:
        raise ApiError(422, "unknown_questions", f"unknown questions {sorted(unknown)}")
    for k, v in answers.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool) or len(str(v)) > 2000:
            raise ApiError(422, "bad_answers", f"answer to {k!r} must be a short text")
