"""Request guards: per-IP token-bucket rate limiting (in-process, so per gunicorn worker), JSON content-type and
Origin checks for the API, CSRF tokens for the admin forms, and security headers."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import Request, session


class TokenBucket:
    """``rate`` tokens per second up to ``burst`` per key. Thread-safe; state lives in this process only."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 50_000):
        self.rate, self.burst, self.max_keys = float(rate), float(burst), max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            self._state[key] = (tokens - 1.0 if ok else tokens, now)
            if len(self._state) > self.max_keys:  # forget the idlest clients
                for k in sorted(self._state, key=lambda k: self._state[k][1])[: self.max_keys // 10]:
                    del self._state[k]
            return ok


def client_ip(request: Request, *, trust_proxy: bool) -> str:
    """The client's address (with ``trust_proxy``, ProxyFix has already put X-Forwarded-For there)."""
    return request.remote_addr or "?"


def origin_ok(request: Request) -> bool:
    """A present Origin header must name this server's host (and port). The scheme is not compared: behind a
    TLS-terminating proxy the app sees http while the browser says https."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(24)
    return tok


def csrf_ok(form_value: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and form_value and hmac.compare_digest(str(expected), str(form_value)))


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # keeps crowd ids and tokens out of third-party logs
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}
