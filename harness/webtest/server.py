"""``serve()``: create the schema once, then run gunicorn in-process (or Flask's reloader with ``dev=True``)."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.webtest.config import ADMIN_TOKEN_ENV, AppConfig
from harness.ratings.db import create_schema, open_database
from harness.webtest.study import load_study

log = logging.getLogger(__name__)


def prepare_database(config: AppConfig) -> None:
    """Create tables and check the database belongs to this study; run before any worker starts."""
    study = load_study(config.study_dir)
    db = open_database(config.db_url)
    try:
        create_schema(db, study_hash=study.manifest.study_hash)
    finally:
        db.dispose()


def _gunicorn_app(config: AppConfig, options: dict):
    from gunicorn.app.base import BaseApplication

    class MushraGunicorn(BaseApplication):
        def __init__(self):
            self.options = options
            super().__init__()

        def load_config(self):
            for key, value in self.options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key.lower(), value)

        def load(self):  # runs in each worker after fork: fresh engines per process
            from harness.webtest.app import create_app

            return create_app(config, create_tables=False)

    return MushraGunicorn()


def serve(study_dir: str | Path, host: str = "127.0.0.1", port: int = 5000, db: str | None = None,
          dev: bool = False, workers: int = 2, *, threads: int = 4) -> None:
    """Serve the prepared study in ``study_dir`` until interrupted.

    ``db``: SQLAlchemy URL (default ``sqlite:///STUDY_DIR/ratings.sqlite``). Gunicorn with ``workers`` processes
    of ``threads`` threads each (gthread worker), or Flask's debug server with the reloader when ``dev``."""
    config = AppConfig.from_env(study_dir, db_url=db)
    prepare_database(config)
    url = f"http://{host}:{port}/"
    print(f"Serving {config.study_dir.name} at {url}  (ratings: {config.db_url})", flush=True)
    if config.admin_token:
        print(f"Admin dashboard: {url}admin/", flush=True)
    else:
        print(f"Admin disabled: set {ADMIN_TOKEN_ENV} to enable {url}admin/", flush=True)
    if dev:
        from harness.webtest.app import create_app

        create_app(config, create_tables=False).run(host=host, port=port, debug=True, use_reloader=True)
        return
    _gunicorn_app(config, {"bind": f"{host}:{port}", "workers": int(workers), "worker_class": "gthread",
                           "threads": int(threads), "preload_app": False, "accesslog": None,
                           "errorlog": "-", "loglevel": "warning", "timeout": 60, "graceful_timeout": 10,
                           "keepalive": 5}).run()
