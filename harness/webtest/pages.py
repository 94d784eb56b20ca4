"""The rater's page (one page; the script walks consent -> training -> headphone check -> trials ->
questionnaire -> completion code through the JSON API) and a health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    study = current_app.extensions["mushra"]["study"]
    s = study.settings
    return render_template("index.html", study_name=study.manifest.study_name, n_trials=s.trials_per_rater,
                           headphone_check=s.headphone_check, training_items=s.training_items,
                           require_one_at_100=s.require_one_at_100)


@bp.get("/favicon.ico")
def favicon():
    return "", 204


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True})
