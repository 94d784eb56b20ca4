"""Blinded audio: ``/audio/SESSION/OPAQUE`` serves a stimulus with identical headers for every stimulus
(``audio/wav``, no file name, no ETag or Last-Modified, ``Cache-Control: no-store``), and records the first
download of each stimulus of a trial (``stimulus_fetches``): the server's listening evidence."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from sqlalchemy import select

from harness.webtest import flow, headphone
from harness.ratings.models import StimulusFetch, utcnow
from harness.vocabulary import TrialKind

F = StimulusFetch.__table__

bp = Blueprint("audio", __name__, url_prefix="/audio")


@bp.get("/<token>/<oid>")
def stimulus(token: str, oid: str):
    ext = current_app.extensions["mushra"]
    study, db = ext["study"], ext["db"]
    with db.Read() as s:
        sess = flow.get_session(s, token)
        for trial in sess.trials:
            if trial.reference_id == oid:
                data = study.wav_bytes(trial.item, None)
                break
            row = next((r for r in trial.stimuli if r[0] == oid), None)
            if row is not None:
                if trial.kind == TrialKind.HEADPHONE:
                    data = headphone.trial_audio(row[1], row[2], study.sample_rate)
                else:
                    data = study.wav_bytes(trial.item, row[1])
                break
        else:
            raise flow.ApiError(404, "unknown_stimulus", "no such stimulus in this session")
        trial_id, open_trial = trial.id, trial.submitted_at is None
    if open_trial:
        record_fetch(db, trial_id, oid)
    return Response(data, status=200, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store",
                                               "Content-Length": str(len(data))})


def record_fetch(db, trial_id: int, oid: str) -> None:
    """Remember when ``oid`` of ``trial_id`` was first downloaded (later downloads keep the first time)."""
    with db.reader.connect() as conn:
        if conn.execute(select(F.c.id).where(F.c.trial_id == trial_id, F.c.stimulus == oid)).first():
            return
    dialect = db.writer.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    with db.write() as conn:
        conn.execute(insert(F).values(trial_id=trial_id, stimulus=oid, fetched_at=utcnow())
                     .on_conflict_do_nothing(index_elements=["trial_id", "stimulus"]))
