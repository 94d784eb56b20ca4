"""Ratings in long format (one row per rating) per the shared contract, and the sessions table."""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import select

from harness.ratings.db import open_database
from harness.ratings.models import Rating, Session, Trial
from harness.vocabulary import RATING_COLUMNS as _RATING_COLUMNS
from harness.vocabulary import TrialKind, kind_of

RATING_COLUMNS = list(_RATING_COLUMNS)
SESSION_COLUMNS = ["session", "rater", "platform", "participant_id", "state", "screened_out", "excluded",
                   "headphone_correct", "created_at", "last_seen", "completed_at", "trials_done", "trials_total",
                   "assigned_items", "user_agent", "device", "crowd", "questionnaire"]


def _stimulus_info(study_dir) -> dict:
    """(item, condition) -> codec, kbps, measured kbps, kind; item -> category. Empty when no manifest."""
    if study_dir is None:
        return {}
    from harness.manifest import load_manifest

    manifest, _ = load_manifest(study_dir)
    info = {("item", i.id): i.category for i in manifest.items}
    for st in manifest.stimuli:
        info[(st.item, st.condition)] = st
    return info


def ratings_frame(db_url: str, *, study_dir=None, include_excluded: bool = False) -> pd.DataFrame:
    """One row per MUSHRA rating with :data:`RATING_COLUMNS`. Ratings of screened-out sessions are left out
    (and of admin-excluded ones unless ``include_excluded``). Codec, bitrates and category come from the
    study's manifest: ``study_dir`` or, for SQLite, the folder holding the database file."""
    if study_dir is None and db_url.startswith("sqlite:///"):
        from pathlib import Path

        candidate = Path(db_url[len("sqlite:///"):]).parent
        study_dir = candidate if (candidate / "manifest.json").exists() else None
    info = _stimulus_info(study_dir)
    db = open_database(db_url)
    try:
        with db.Read() as s:
            q = (select(Rating, Trial, Session).join(Trial, Rating.trial_id == Trial.id)
                 .join(Session, Trial.session_id == Session.id)
                 .where(Trial.kind == TrialKind.MUSHRA, Session.screened_out.is_(False))
                 .order_by(Session.id, Trial.order_index, Rating.condition))
            if not include_excluded:
                q = q.where(Session.excluded.is_(False))
            rows = []
            for r, t, sess in s.execute(q):
                st = info.get((t.item, r.condition))
                rows.append({
                    "rater": sess.participant_id or sess.public_id, "session": sess.public_id, "item": t.item,
                    "condition": r.condition, "score": float(r.score), "trial": int(t.order_index),
                    "codec": getattr(st, "codec", None),
                    "kbps": _num(getattr(st, "nominal_kbps", None)),
                    "measured_kbps": _num(getattr(st, "measured_kbps", None)),
                    "category": info.get(("item", t.item), ""),
                    "kind": getattr(st, "kind", None) or str(kind_of(r.condition)),
                    "plays": int(r.plays), "listen_ms": float(r.listen_ms),
                    "submitted_at": r.submitted_at.isoformat(timespec="milliseconds") + "Z"})
    finally:
        db.dispose()
    df = pd.DataFrame(rows, columns=RATING_COLUMNS)
    return df.astype({"score": float, "trial": int, "kbps": float, "measured_kbps": float, "plays": int,
                      "listen_ms": float})


def _num(v) -> float:
    return float(v) if v is not None else math.nan


def sessions_frame(db_url: str) -> pd.DataFrame:
    """One row per session with :data:`SESSION_COLUMNS` (device/crowd/questionnaire as JSON text)."""
    import json

    from harness.ratings.models import HeadphoneAnswer

    db = open_database(db_url)
    try:
        with db.Read() as s:
            hp: dict[int, int] = {}
            for a in s.scalars(select(HeadphoneAnswer)):
                hp[a.session_id] = hp.get(a.session_id, 0) + int(a.answer == a.correct)
            rows = []
            for sess in s.scalars(select(Session).order_by(Session.id)):
                mushra = [t for t in sess.trials if t.kind == TrialKind.MUSHRA]
                quest = next((t.answers for t in sess.trials if t.kind == TrialKind.QUESTIONNAIRE and t.answers), {})
                rows.append({
                    "session": sess.public_id, "rater": sess.participant_id or sess.public_id,
                    "platform": sess.platform, "participant_id": sess.participant_id or "", "state": sess.state,
                    "screened_out": sess.screened_out, "excluded": sess.excluded,
                    "headphone_correct": hp.get(sess.id), "created_at": _iso(sess.created_at),
                    "last_seen": _iso(sess.last_seen), "completed_at": _iso(sess.completed_at),
                    "trials_done": sum(t.submitted_at is not None for t in mushra), "trials_total": len(mushra),
                    "assigned_items": " ".join(sess.assigned_items), "user_agent": sess.user_agent,
                    "device": json.dumps(sess.device, sort_keys=True), "crowd": json.dumps(sess.crowd, sort_keys=True),
                    "questionnaire": json.dumps(quest, sort_keys=True)})
    finally:
        db.dispose()
    return pd.DataFrame(rows, columns=SESSION_COLUMNS)


def _iso(t) -> str:
    return t.isoformat(timespec="seconds") + "Z" if t is not None else ""
