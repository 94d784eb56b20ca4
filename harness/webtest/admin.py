"""Admin pages (token from ``$MUSHRA_ADMIN_TOKEN``, never a default): dashboard, CSV exports, exclusions.

Log in through the form (CSRF-protected; sets a signed session cookie) or send ``Authorization: Bearer TOKEN``
(scripts). With no token configured every admin URL answers 503 saying how to enable it."""

from __future__ import annotations

import hmac
import statistics
from functools import wraps

from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, session,
                   url_for)
from sqlalchemy import func, select

from harness.webtest.config import ADMIN_TOKEN_ENV
from harness.ratings.export import neutralise, ratings_frame, sessions_frame
from harness.webtest.flow import item_load
from harness.ratings.models import Rating, Session, Trial
from harness.webtest.security import csrf_ok, csrf_token
from harness.vocabulary import SessionState, TrialKind

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _ext():
    return current_app.extensions["mushra"]


def _token() -> str:
    tok = _ext()["config"].admin_token
    if not tok:
        abort(503, f"admin is disabled: set {ADMIN_TOKEN_ENV} in the server's environment and restart")
    return tok


def _bearer_ok(tok: str) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), tok.encode())


def admin_required(view):
    @wraps(view)
    def wrapper(*a, **kw):
        tok = _token()
        if not (session.get("admin") or _bearer_ok(tok)):
            if request.path.endswith((".csv", ".json")):
                abort(401, "admin login required (log in at /admin/ or send Authorization: Bearer TOKEN)")
            return redirect(url_for("admin.login"))
        return view(*a, **kw)
    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login():
    tok = _token()
    error = ""
    if request.method == "POST":
        if not csrf_ok(request.form.get("csrf")):
            abort(400, "form expired or forged (CSRF check failed); reload the page")
        if hmac.compare_digest(request.form.get("token", "").encode(), tok.encode()):
            session.clear()
            session["admin"] = True
            return redirect(url_for("admin.dashboard"))
        error = "wrong token"
    return render_template("admin_login.html", csrf=csrf_token(), error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if not csrf_ok(request.form.get("csrf")):
        abort(400, "CSRF check failed")
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("/")
@admin_required
def dashboard():
    study, db = _ext()["study"], _ext()["db"]
    with db.Read() as s:
        load = item_load(s, study)
        done: dict[str, int] = {i: 0 for i in study.items}
        for item, in s.execute(select(Trial.item).join(Session)
                               .where(Trial.kind == TrialKind.MUSHRA, Trial.submitted_at.is_not(None),
                                      Session.screened_out.is_(False), Session.excluded.is_(False))):
            done[item] = done.get(item, 0) + 1
        scores: dict[str, list[float]] = {}
        for cond, score in s.execute(select(Rating.condition, Rating.score).join(Trial).join(Session)
                                     .where(Session.screened_out.is_(False), Session.excluded.is_(False))):
            scores.setdefault(cond, []).append(score)
        totals = dict(s.execute(select(Session.state, func.count()).group_by(Session.state)).all())
        n_all = sum(totals.values())
        n_screened = s.scalar(select(func.count()).where(Session.screened_out.is_(True))) or 0
        n_excluded = s.scalar(select(func.count()).where(Session.excluded.is_(True))) or 0
        n_flagged = s.scalar(select(func.count()).select_from(Trial).where(Trial.flags.is_not(None),
                                                                            Trial.flags != "")) or 0
        sessions = list(s.scalars(select(Session).order_by(Session.id.desc()).limit(200)))
        rows = [{"id": x.public_id, "rater": x.participant_id or "", "platform": x.platform, "state": x.state,
                 "excluded": x.excluded, "screened_out": x.screened_out, "last_seen": x.last_seen,
                 "done": sum(t.submitted_at is not None for t in x.trials if t.kind == TrialKind.MUSHRA),
                 "total": sum(t.kind == TrialKind.MUSHRA for t in x.trials)} for x in sessions]
    conds = []
    for c in study.manifest.conditions:
        v = scores.get(c.id, [])
        conds.append({"id": c.id, "kind": c.kind, "label": c.label or c.id, "n": len(v),
                      "mean": statistics.fmean(v) if v else None})
    items = [{"id": i, "done": done.get(i, 0), "promised": load.get(i, 0)} for i in study.items]
    ctl = _ext().get("adaptive")
    adaptive_view = None
    if ctl is not None:
        from harness.webtest.adaptive import dashboard as adaptive_dashboard

        adaptive_view = adaptive_dashboard(ctl.fresh(plan=True))
    return render_template("admin.html", study=study, items=items, conds=conds, sessions=rows, adaptive=adaptive_view,
                           target=study.settings.ratings_per_item, csrf=csrf_token(),
                           n_sessions=n_all, n_done=totals.get(SessionState.DONE, 0),
                           n_active=totals.get(SessionState.ACTIVE, 0),
                           n_screened=n_screened, n_excluded=n_excluded, n_flagged=n_flagged,
                           n_listed=len(rows))


@bp.post("/sessions/<public_id>/exclude")
@admin_required
def exclude(public_id: str):
    if not csrf_ok(request.form.get("csrf")):
        abort(400, "CSRF check failed; reload the dashboard")
    value = request.form.get("excluded") == "1"
    db = _ext()["db"]
    with db.write_lock(), db.Write.begin() as s:
        sess = s.scalar(select(Session).where(Session.public_id == public_id))
        if sess is None:
            abort(404)
        sess.excluded = value
    return redirect(url_for("admin.dashboard"))


def _csv(df, name: str) -> Response:
    return Response(neutralise(df).to_csv(index=False), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _json(df, name: str) -> Response:
    import json

    study = _ext()["study"]
    records = json.loads(df.to_json(orient="records", date_format="iso"))  # NaN -> null
    resp = jsonify({"format": f"mushra-{name}", "format_version": 1, "study": study.manifest.study_name,
                    "study_hash": study.manifest.study_hash, "columns": list(df.columns), "rows": records})
    resp.headers["Content-Disposition"] = f"attachment; filename={name}.json"
    return resp


def _ratings():
    ext = _ext()  # everything, marked: screened-out and excluded raters are in it with their flag columns
    return ratings_frame(ext["config"].db_url, study_dir=ext["study"].folder, include_excluded=True,
                         include_screened_out=True)


@bp.get("/export/ratings.csv")
@admin_required
def export_ratings():
    return _csv(_ratings(), "ratings.csv")


@bp.get("/export/ratings.json")
@admin_required
def export_ratings_json():
    return _json(_ratings(), "ratings")


@bp.get("/export/sessions.csv")
@admin_required
def export_sessions():
    return _csv(sessions_frame(_ext()["config"].db_url), "sessions.csv")


@bp.get("/export/sessions.json")
@admin_required
def export_sessions_json():
    return _json(sessions_frame(_ext()["config"].db_url), "sessions")
