"""The Flask app factory: loads the study, opens the database, wires blueprints, guards and JSON errors."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from harness.webtest.config import AppConfig
from harness.ratings.db import create_schema, open_database
from harness.webtest.flow import ApiError
from harness.webtest.security import SECURITY_HEADERS, TokenBucket, client_ip, origin_ok
from harness.webtest.study import load_study

log = logging.getLogger(__name__)
JSON_PREFIXES = ("/api/", "/audio/", "/admin/export")


def create_app(config: AppConfig, *, create_tables: bool = True) -> Flask:
    """Build the app for ``config``. ``create_tables=False`` when the schema was created before workers forked."""
    study = load_study(config.study_dir)
    db = open_database(config.db_url)
    if create_tables:
        create_schema(db, study_hash=study.manifest.study_hash)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=config.max_content_length,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", JSON_SORT_KEYS=False)
    app.extensions["mushra"] = {"study": study, "db": db, "config": config}
    if study.settings.adaptive:  # precision targets: steer and stop (harness.webtest.adaptive)
        from harness.webtest.adaptive import Controller

        app.extensions["mushra"]["adaptive"] = Controller(study, db, background=True, max_cpu_share=0.05,
                                                        shared=True)
    app.session_interface = _CookieOnlyForPages()
    if config.trust_proxy:  # X-Forwarded-For/-Proto/-Host from ONE reverse proxy you control
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    bucket = TokenBucket(config.rate_limit_per_s, config.rate_burst)

    from harness.webtest import admin, api, audio, pages
    from harness.webtest.limiter import client_key, make_limiter

    for bp in (pages.bp, api.bp, audio.bp, admin.bp):
        app.register_blueprint(bp)
    limiter = make_limiter(app, db, key_func=client_key)
    for endpoint, limit, methods, what in (
            ("api.create_session", config.session_limit, ["POST"], "new sessions"),
            ("admin.login", config.login_limit, ["POST"], "admin login attempts")):
        if limit.strip():
            app.view_functions[endpoint] = limiter.limit(
                limit, methods=methods, error_message=f"too many {what} from your address; wait a few minutes "
                                                      "and retry")(app.view_functions[endpoint])
    app.extensions["mushra"]["limiter"] = limiter

    @app.before_request
    def _guards():
        if not bucket.allow(client_ip(request, trust_proxy=config.trust_proxy)):
            return _error(429, "rate_limited", "too many requests; slow down and retry in a few seconds")
        if request.path.startswith("/api/") and request.method == "POST":
            if not origin_ok(request):
                return _error(403, "bad_origin", "cross-origin requests are not accepted")
            if request.mimetype != "application/json":
                return _error(415, "json_required", "send the body as JSON with Content-Type: application/json")
        return None

    @app.after_request
    def _headers(resp):
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if request.path.startswith(("/api/", "/audio/", "/admin")):
            resp.headers["Cache-Control"] = "no-store"
        if request.is_secure:  # served over HTTPS (directly or via the trusted proxy): browsers keep to HTTPS
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return _error(exc.status, exc.code, exc.message, **getattr(exc, "extra", {}))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith(JSON_PREFIXES):
            code = (exc.name or "error").lower().replace(" ", "_")
            return _error(exc.code or 500, code, exc.description or exc.name)
        return exc

    @app.errorhandler(Exception)
    def _crash(exc: Exception):  # never show a stack trace to a client
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith(JSON_PREFIXES):
            return _error(500, "internal_error", "internal server error; the request was not saved, retry")
        return "Internal server error. Please retry in a moment.", 500

    return app


class _CookieOnlyForPages(SecureCookieSessionInterface):
    """No cookie session on the API and audio paths: the session token in the URL is the capability there
    (and skipping the signed-cookie work saves CPU on every API request). The cookie is ``Secure`` whenever the
    request came over HTTPS (directly, or via the trusted reverse proxy's ``X-Forwarded-Proto``), or always with
    ``MUSHRA_SECURE_COOKIES=1``; it is always ``HttpOnly`` and ``SameSite=Strict``."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.extensions["mushra"]["config"].secure_cookies or request.is_secure)

    def open_session(self, app, request):
        if request.path.startswith(("/api/", "/audio/")):
            return self.session_class()  # empty, never saved (not modified)
        return super().open_session(app, request)


def _error(status: int, code: str, message: str, **extra):
    resp = jsonify({"error": code, "message": message, **extra})
    resp.status_code = status
    return resp
