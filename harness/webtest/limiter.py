"""Per-client rate limits with Flask-Limiter, counted in the ratings database so that every gunicorn worker (and
every host sharing a PostgreSQL database) sees the same counts.

`limits` has no SQL storage, so :class:`SqlStorage` implements its fixed-window storage interface on the
``rate_limits`` table (one row per key: count and expiry). Limited: session creation (``POST /api/sessions``)
and admin logins; the in-process token bucket in :mod:`.security` still shields every other path.
"""

from __future__ import annotations

import time

from flask import Flask, request
from flask_limiter import Limiter
from limits.storage import Storage
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from harness.ratings.db import Database
from harness.ratings.models import RateLimit

T = RateLimit.__table__
SCHEME = "mushra+sql"


class SqlStorage(Storage):
    """Fixed-window counters in the ``rate_limits`` table (``storage_uri="mushra+sql://"``, option ``db``)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.db: Database = options["db"]  # type: ignore[assignment]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(select(T.c.count, T.c.expires_at).where(T.c.key == key)).first()
            if row is None:
                conn.execute(T.insert().values(key=key, count=amount, expires_at=now + expiry))
                return amount
            if row.expires_at <= now:
                conn.execute(T.update().where(T.c.key == key).values(count=amount, expires_at=now + expiry))
                return amount
            conn.execute(T.update().where(T.c.key == key).values(count=T.c.count + amount))
            if now - getattr(self, "_swept", 0.0) > 60:  # forget expired windows once a minute
                conn.execute(delete(T).where(T.c.expires_at < now - 3600))
                self._swept = now
            return int(row.count) + amount

    def _row(self, key: str):
        with self.db.reader.connect() as conn:
            return conn.execute(select(T.c.count, T.c.expires_at).where(T.c.key == key)).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row.count) if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row.expires_at) if row is not None and row.expires_at > time.time() else time.time()

    def check(self) -> bool:
        try:
            self._row("_check")
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.db.write() as conn:
            return conn.execute(delete(T)).rowcount

    def clear(self, key: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(T).where(T.c.key == key))


def make_limiter(app: Flask, db: Database, *, key_func) -> Limiter:
    """A Flask-Limiter on the database storage; limits are attached per view with ``limiter.limit``."""
    limiter = Limiter(key_func=key_func, app=app, storage_uri=f"{SCHEME}://", storage_options={"db": db},
                      strategy="fixed-window", default_limits=[], headers_enabled=True,
                      key_prefix="mushra", swallow_errors=False)
    return limiter


def client_key() -> str:
    """The client's IP (behind ``MUSHRA_TRUST_PROXY``, ProxyFix already put the forwarded address there)."""
    return request.remote_addr or "?"
