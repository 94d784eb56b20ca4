"""Ratings in long format (one row per rating) per the shared contract, with telemetry and flag columns, and the
sessions table with questionnaire answers; CSV cells that a spreadsheet would run as a formula are neutralised."""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import select

from harness.ratings.db import open_database
from harness.ratings.models import Rating, Session, Trial
from harness.vocabulary import RATING_COLUMNS as _RATING_COLUMNS
from harness.vocabulary import TrialKind, kind_of

RATING_COLUMNS = list(_RATING_COLUMNS)
# after the contract's columns (analysis keeps extra columns): who, flags, and per-trial telemetry
TELEMETRY_COLUMNS = ["platform", "participant_id", "screened_out", "excluded", "trial_flags", "time_on_trial_ms",
                     "time_on_page_ms", "reference_plays", "reference_listen_ms", "loop_changes", "loop_start_s",
                     "loop_end_s", "focus_losses", "load_ms"]
SESSION_COLUMNS = ["session", "rater", "platform", "participant_id", "state", "screened_out", "excluded",
                   "headphone_correct", "created_at", "last_seen", "completed_at", "trials_done", "trials_total",
                   "flagged_trials", "assigned_items", "user_agent", "device", "crowd", "questionnaire"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell starting with ``= + - @``, tab or CR gets a leading ``'``, so spreadsheets
    show it as text instead of running it (CSV/formula injection, OWASP). Numbers are left alone."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v)
    return out


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


def ratings_frame(db_url: str, *, study_dir=None, include_excluded: bool = False,
                  include_screened_out: bool = False) -> pd.DataFrame:
    """One row per MUSHRA rating with :data:`RATING_COLUMNS` then :data:`TELEMETRY_COLUMNS`. Ratings of
    screened-out (headphone check) and admin-excluded sessions are left out unless ``include_screened_out`` /
    ``include_excluded`` (the admin export includes both, marked in the ``screened_out``/``excluded`` columns).
    ``trial_flags``: the server's listening-evidence flags (``not_fetched``, ``too_fast``; "" = none).
    ``time_on_trial_ms``: server time from issuing the trial to its submission. Codec, bitrates and category
    come from the study's manifest: ``study_dir`` or, for SQLite, the folder holding the database file."""
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
                 .where(Trial.kind == TrialKind.MUSHRA)
                 .order_by(Session.id, Trial.order_index, Rating.condition))
            if not include_screened_out:
                q = q.where(Session.screened_out.is_(False))
            if not include_excluded:
                q = q.where(Session.excluded.is_(False))
            rows = []
            for r, t, sess in s.execute(q):
                st = info.get((t.item, r.condition))
                tel = t.telemetry or {}
                loop = tel.get("loop_s") or [None, None]
                rows.append({
                    "rater": sess.participant_id or sess.public_id, "session": sess.public_id, "item": t.item,
                    "condition": r.condition, "score": float(r.score), "trial": int(t.order_index),
                    "codec": getattr(st, "codec", None),
                    "kbps": _num(getattr(st, "nominal_kbps", None)),
                    "measured_kbps": _num(getattr(st, "measured_kbps", None)),
                    "category": info.get(("item", t.item), ""),
                    "kind": getattr(st, "kind", None) or str(kind_of(r.condition)),
                    "plays": int(r.plays), "listen_ms": float(r.listen_ms),
                    "submitted_at": r.submitted_at.isoformat(timespec="milliseconds") + "Z",
                    "platform": sess.platform, "participant_id": _raw_id(sess.participant_id),
                    "screened_out": bool(sess.screened_out), "excluded": bool(sess.excluded),
                    "trial_flags": t.flags or "",
                    "time_on_trial_ms": _ms(t.submitted_at - t.issued_at) if t.issued_at and t.submitted_at else None,
                    "time_on_page_ms": tel.get("time_on_page_ms"), "reference_plays": tel.get("reference_plays"),
                    "reference_listen_ms": tel.get("reference_listen_ms"), "loop_changes": tel.get("loop_changes"),
                    "loop_start_s": loop[0], "loop_end_s": loop[1], "focus_losses": tel.get("focus_losses"),
                    "load_ms": tel.get("load_ms")})
    finally:
        db.dispose()
    df = pd.DataFrame(rows, columns=RATING_COLUMNS + TELEMETRY_COLUMNS)
    return df.astype({"score": float, "trial": int, "kbps": float, "measured_kbps": float, "plays": int,
                      "listen_ms": float})


def _ms(delta) -> float:
    return round(delta.total_seconds() * 1000.0, 1)


def _raw_id(key: str | None) -> str:
    """The participant id as the platform gave it (stored as ``platform:id``; older databases: just ``id``)."""
    if not key:
        return ""
    head, sep, tail = key.partition(":")
    return tail if sep and head in ("prolific", "mturk", "direct") else key


def _num(v) -> float:
    return float(v) if v is not None else math.nan


def sessions_frame(db_url: str) -> pd.DataFrame:
    """One row per session (screened-out and excluded ones included) with :data:`SESSION_COLUMNS`
    (device/crowd/questionnaire as JSON text), then one ``q_QUESTION`` column per questionnaire answer."""
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
                    "platform": sess.platform, "participant_id": _raw_id(sess.participant_id), "state": sess.state,
                    "screened_out": sess.screened_out, "excluded": sess.excluded,
                    "headphone_correct": hp.get(sess.id), "created_at": _iso(sess.created_at),
                    "last_seen": _iso(sess.last_seen), "completed_at": _iso(sess.completed_at),
                    "trials_done": sum(t.submitted_at is not None for t in mushra), "trials_total": len(mushra),
                    "flagged_trials": sum(bool(t.flags) for t in sess.trials),
                    "assigned_items": " ".join(sess.assigned_items), "user_agent": sess.user_agent,
                    "device": json.dumps(sess.device, sort_keys=True), "crowd": json.dumps(sess.crowd, sort_keys=True),
                    "questionnaire": json.dumps(quest, sort_keys=True),
                    **{f"q_{k}": str(v) for k, v in quest.items() if isinstance(k, str) and len(k) <= 64}})
    finally:
        db.dispose()
    extra = sorted({k for r in rows for k in r if k.startswith("q_")})
    return pd.DataFrame(rows, columns=SESSION_COLUMNS + extra)


def _iso(t) -> str:
    return t.isoformat(timespec="seconds") + "Z" if t is not None else ""


def rated_stimuli(db_url: str) -> dict[tuple[str, str], int]:
    """``(item, condition) -> number of ratings`` of every stimulus that has at least one rating (any trial kind,
    screened-out and excluded sessions included: their audio is still evidence)."""
    from sqlalchemy import func, inspect

    db = open_database(db_url)
    try:
        if not inspect(db.reader).has_table(Rating.__tablename__):
            return {}
        with db.Read() as s:
            q = (select(Trial.item, Rating.condition, func.count()).join(Trial, Rating.trial_id == Trial.id)
                 .group_by(Trial.item, Rating.condition))
            return {(item, cond): int(n) for item, cond, n in s.execute(q)}
    finally:
        db.dispose()
