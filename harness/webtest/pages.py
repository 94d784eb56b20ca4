"""The rater's page (one page; the script walks consent -> training -> headphone check -> trials ->
questionnaire -> completion code through the JSON API) and a health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    study = current_app.extensions["mushra"]["study"]
    s = study.settings
    adaptive = current_app.extensions["mushra"].get("adaptive")
    closed = adaptive is not None and adaptive.state().complete  # an adaptive study that stopped on its own
    return_url = None
    if closed:
        from harness.webtest.adaptive import return_url as _return_url

        return_url = _return_url(s, "prolific" if request.args.get("PROLIFIC_PID") else "direct")
    return render_template("index.html", study_name=study.manifest.study_name, n_trials=s.trials_per_rater,
                           headphone_check=s.headphone_check, training_items=s.training_items,
                           require_one_at_100=s.require_one_at_100, closed=closed, return_url=return_url)


@bp.get("/favicon.ico")
def favicon():
    return "", 204


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True})
