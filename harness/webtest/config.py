"""Configuration of the web app (a frozen dataclass); the rater settings are :class:`harness.vocabulary.RaterSettings`."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

from harness.ratings import default_db_url

ADMIN_TOKEN_ENV = "MUSHRA_ADMIN_TOKEN"
SECRET_KEY_ENV = "MUSHRA_SECRET_KEY"
RATE_LIMIT_ENV = "MUSHRA_RATE_LIMIT"  # requests per second per IP per worker; 0 disables
TRUST_PROXY_ENV = "MUSHRA_TRUST_PROXY"  # 1: behind one reverse proxy (use X-Forwarded-* headers)
SESSION_LIMIT_ENV = "MUSHRA_SESSION_LIMIT"  # new sessions per client IP (Flask-Limiter syntax); "" disables
LOGIN_LIMIT_ENV = "MUSHRA_LOGIN_LIMIT"  # admin login attempts per client IP; "" disables
SECURE_COOKIES_ENV = "MUSHRA_SECURE_COOKIES"  # 1: always mark cookies Secure (default: when the request is HTTPS)
DEFAULT_SESSION_LIMIT = "10 per minute;60 per hour"
DEFAULT_LOGIN_LIMIT = "5 per minute;30 per hour"


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """Everything :func:`harness.webtest.app.create_app` needs.

    ``admin_token`` None disables the admin pages (they answer 503 saying how to enable them).
    ``rate_limit_per_s``/``rate_burst``: in-process token bucket per client IP, *per worker process*; 0 disables.
    """

    study_dir: Path
    db_url: str
    secret_key: str
    admin_token: str | None = None
    rate_limit_per_s: float = 20.0
    rate_burst: int = 200
    max_content_length: int = 256 * 1024  # bytes per request
    trust_proxy: bool = False  # honour X-Forwarded-For (only behind a reverse proxy you control)
    session_limit: str = DEFAULT_SESSION_LIMIT  # per client IP, across all workers (database-backed); "" = off
    login_limit: str = DEFAULT_LOGIN_LIMIT
    secure_cookies: bool = False  # True: Secure cookies even when the app sees plain HTTP

    @classmethod
    def from_env(cls, study_dir: str | Path, *, db_url: str | None = None) -> "AppConfig":
        """Build a config from the study folder and the environment (admin token, secret key, rate limit)."""
        folder = Path(study_dir).resolve()
        url = db_url or default_db_url(folder)
        secret = os.environ.get(SECRET_KEY_ENV) or _persistent_secret(folder)
        rate = float(os.environ.get(RATE_LIMIT_ENV, "20"))
        return cls(study_dir=folder, db_url=url, secret_key=secret,
                   admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None, rate_limit_per_s=rate,
                   trust_proxy=os.environ.get(TRUST_PROXY_ENV, "") in ("1", "true", "yes"),
                   session_limit=os.environ.get(SESSION_LIMIT_ENV, DEFAULT_SESSION_LIMIT),
                   login_limit=os.environ.get(LOGIN_LIMIT_ENV, DEFAULT_LOGIN_LIMIT),
                   secure_cookies=os.environ.get(SECURE_COOKIES_ENV, "") in ("1", "true", "yes"))


def _persistent_secret(folder: Path) -> str:
    """A random secret kept in ``DIR/.secret_key`` so every gunicorn worker (and restarts) share it."""
    path = folder / ".secret_key"
    if not path.exists():
        tmp = path.with_name(f".secret_key.{os.getpid()}.part")
        tmp.write_text(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic create-if-absent
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()
