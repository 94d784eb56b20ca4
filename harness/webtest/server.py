"""``serve()``: create the schema once, then run gunicorn in-process (or Flask's reloader with ``dev=True``)."""

from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path

from harness.errors import HarnessError
from harness.ratings.db import create_schema, open_database
from harness.webtest.config import ADMIN_TOKEN_ENV, AppConfig
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


class PortInUse(HarnessError):
    """The address to serve on is taken (another server, maybe another study)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port). Bound *before* anything is printed,
    so the URL we print is ours; a taken port is a clear error, never a raw server traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HarnessError(f"cannot serve on host {host!r}: {exc.strerror}; use an address such as 127.0.0.1 or "
                           "0.0.0.0") from None
    family, _type, _proto, _canon, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop (TIME_WAIT)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is already in use (another server is running there; it may be "
                            f"serving a different study). Stop it, or serve on another port: --port {port + 1}"
                            ) from None
        if exc.errno == errno.EACCES:
            raise HarnessError(f"not allowed to listen on port {port} on {host} (ports below 1024 need root); "
                               "use e.g. --port 5000") from None
        raise HarnessError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _gunicorn_app(config: AppConfig, options: dict, listener: socket.socket):
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

        def run(self):  # gunicorn serves on our already-bound socket (it would otherwise bind a second time)
            from gunicorn import sock as gsock
            from gunicorn.arbiter import Arbiter

            arbiter = Arbiter(self)
            kind = gsock.TCP6Socket if listener.family == socket.AF_INET6 else gsock.TCPSocket
            arbiter.LISTENERS = [kind(listener.getsockname()[:2], self.cfg, arbiter.log, fd=listener.detach())]
            arbiter.run()

    return MushraGunicorn()


def serve(study_dir: str | Path, host: str = "127.0.0.1", port: int = 5000, db: str | None = None,
          dev: bool = False, workers: int = 2, *, threads: int = 4) -> None:
    """Serve the prepared study in ``study_dir`` until interrupted.

    ``db``: SQLAlchemy URL (default ``sqlite:///STUDY_DIR/ratings.sqlite``). Gunicorn with ``workers`` processes
    of ``threads`` threads each (gthread worker), or Flask's debug server with the reloader when ``dev``."""
    config = AppConfig.from_env(study_dir, db_url=db)
    prepare_database(config)
    listener = bind(host, port)
    port = listener.getsockname()[1]
    url = f"http://{host}:{port}/"
    print(f"Serving {config.study_dir.name} at {url}  (ratings: {config.db_url})", flush=True)
    if config.admin_token:
        print(f"Admin dashboard: {url}admin/", flush=True)
    else:
        print(f"Admin disabled: set {ADMIN_TOKEN_ENV} to enable {url}admin/", flush=True)
    if dev:
        from harness.webtest.app import create_app

        listener.close()  # the development server binds itself (checked free just now)
        create_app(config, create_tables=False).run(host=host, port=port, debug=True, use_reloader=True)
        return
    _gunicorn_app(config, {"bind": f"{host}:{port}", "workers": int(workers), "worker_class": "gthread",
                           "threads": int(threads), "preload_app": False, "accesslog": None,
                           "errorlog": "-", "loglevel": "warning", "timeout": 60, "graceful_timeout": 10,
                           "keepalive": 5}, listener).run()
