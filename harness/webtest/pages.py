"""The rater's page (one page; the script walks consent -> training -> headphone check -> trials ->
questionnaire -> completion code through the JSON API) and a health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from harness.webtest.texts import texts_for

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """The page, in the language of ``?lang=`` (English, the built-in German, or the study's translations)."""
    study = current_app.extensions["mushra"]["study"]
    s = study.settings
    t = texts_for(request.args.get("lang"), text=s.text, translations=s.translations)
    adaptive = current_app.extensions["mushra"].get("adaptive")
    closed = adaptive is not None and adaptive.state().complete  # an adaptive study that stopped on its own
    return_url = None
    if closed:
        from harness.webtest.adaptive import return_url as _return_url

        return_url = _return_url(s, "prolific" if request.args.get("PROLIFIC_PID") else "direct")
    return render_template("index.html", t=t, n_trials=s.trials_per_rater, closed=closed, return_url=return_url)


@bp.get("/favicon.ico")
def favicon():
    return "", 204


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True})
