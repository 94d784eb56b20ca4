"""Blinded audio: ``/audio/SESSION/OPAQUE`` serves a stimulus with identical headers for every stimulus
(``audio/wav``, no file name, no ETag or Last-Modified, ``Cache-Control: no-store``)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from harness.webtest import flow, headphone
from harness.vocabulary import TrialKind

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
    return Response(data, status=200, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store",
                                               "Content-Length": str(len(data))})
