"""The JSON API the rater page itself uses (paths and field names are a public contract, see docs/webapp.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from harness.webtest import flow, schemas, steps
from harness.webtest.flow import ApiError
from harness.vocabulary import TrialKind

bp = Blueprint("api", __name__, url_prefix="/api")

CROWD_KEYS = {  # URL parameter -> platform
    "PROLIFIC_PID": "prolific", "STUDY_ID": "prolific", "SESSION_ID": "prolific",
    "workerId": "mturk", "assignmentId": "mturk", "hitId": "mturk",
}


def _ctx() -> tuple[Any, Any]:
    ext = current_app.extensions["mushra"]
    return ext["study"], ext["db"]


def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "bad_json", "the body is not valid JSON")
    return body


def _short_str(v: Any, name: str, limit: int = 128) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > limit:
        raise ApiError(400, "bad_field", f"{name} must be a non-empty string of at most {limit} characters")
    return v.strip()


def _audio_url(token: str):
    prefix = f"{request.script_root}/audio/{token}/"  # = url_for("audio.stimulus", ...), built once per request
    return lambda oid: prefix + oid


@bp.post("/sessions")
def create_session():
    body = _json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_payload", "the body must be a JSON object")
    pid = body.get("participant_id")
    pid = _short_str(pid, "participant_id", limit=100) if pid not in (None, "") else None
    crowd_in = body.get("crowd") or {}
    if not isinstance(crowd_in, dict):
        raise ApiError(400, "bad_field", "crowd must be an object of URL parameters")
    crowd = {k: _short_str(v, k) for k, v in crowd_in.items() if k in CROWD_KEYS and v}
    platform = body.get("platform") or next((CROWD_KEYS[k] for k in crowd), "direct")
    if platform not in ("prolific", "mturk", "direct"):
        raise ApiError(400, "bad_field", "platform must be prolific, mturk or direct")
    if pid is None:
        pid = crowd.get("PROLIFIC_PID") or crowd.get("workerId")
    unknown = set(body) - {"participant_id", "crowd", "platform", "device"}
    if unknown:
        raise ApiError(400, "unknown_fields", f"unknown fields {sorted(unknown)}")
    device = schemas.validate(body.get("device"), schemas.DEVICE, name="device", code="bad_device")
    study, db = _ctx()
    adaptive = current_app.extensions["mushra"].get("adaptive")
    if adaptive is not None:
        adaptive.state()  # refresh a stale estimate here, outside the write lock
    for attempt in range(2):
        try:
            with db.write_lock(), db.Write.begin() as s:
                sess = flow.create_session(
                    s, study, participant_id=pid, platform=platform, crowd=crowd, device=device,
                    user_agent=request.headers.get("User-Agent", ""), adaptive=adaptive)
                token = sess.token
            break
        except IntegrityError:  # the same participant id created concurrently: the second one is refused
            if attempt:
                raise
    resp = jsonify({"session": token, "resumed": False,
                    "resume_url": url_for("pages.index", resume=token, _external=True)})
    resp.status_code = 201
    return resp


@bp.get("/sessions/<token>")
def session_status(token: str):
    study, db = _ctx()
    with db.Read() as s:
        sess = flow.get_session(s, token)
        mushra = [t for t in sess.trials if t.kind == TrialKind.MUSHRA]
        return jsonify({"state": sess.state, "screened_out": sess.screened_out,
                        "progress": {"done": sum(t.submitted_at is not None for t in mushra),
                                     "total": len(mushra)}})


@bp.get("/sessions/<token>/next")
def next_step(token: str):
    study, db = _ctx()
    return jsonify(steps.next_step(db, study, token, audio_url=_audio_url(token)))


@bp.post("/sessions/<token>/trials/<int:trial_id>")
def submit_trial(token: str, trial_id: int):
    """Save a step; the answer also carries the session's next step (``next``, as GET .../next would give),
    which saves the page and scripts a round trip."""
    body = _json_body()
    study, db = _ctx()
    try:
        out = steps.submit(db, study, token, trial_id, body)
    except IntegrityError:  # (the conditional claim makes this unreachable; the UNIQUE constraint backs it up)
        out = steps.submit(db, study, token, trial_id, body)
    out["next"] = steps.next_step(db, study, token, audio_url=_audio_url(token))
    return jsonify(out)
