"""Configuration of the web app (a frozen dataclass) and the rater settings with their defaults."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Any

from harness.errors import ManifestError

ADMIN_TOKEN_ENV = "MUSHRA_ADMIN_TOKEN"
SECRET_KEY_ENV = "MUSHRA_SECRET_KEY"
RATE_LIMIT_ENV = "MUSHRA_RATE_LIMIT"  # requests per second per IP per worker; 0 disables
TRUST_PROXY_ENV = "MUSHRA_TRUST_PROXY"  # 1: behind one reverse proxy (use X-Forwarded-* headers)
MAX_SIGNALS = 12  # ITU-R BS.1534-3: at most 12 signals per trial, hidden reference and anchors included


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

    @classmethod
    def from_env(cls, study_dir: str | Path, *, db_url: str | None = None) -> "AppConfig":
        """Build a config from the study folder and the environment (admin token, secret key, rate limit)."""
        folder = Path(study_dir).resolve()
        url = db_url or default_db_url(folder)
        secret = os.environ.get(SECRET_KEY_ENV) or _persistent_secret(folder)
        rate = float(os.environ.get(RATE_LIMIT_ENV, "20"))
        return cls(study_dir=folder, db_url=url, secret_key=secret,
                   admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None, rate_limit_per_s=rate,
                   trust_proxy=os.environ.get(TRUST_PROXY_ENV, "") in ("1", "true", "yes"))


def default_db_url(folder: Path) -> str:
    return f"sqlite:///{Path(folder).resolve() / 'ratings.sqlite'}"


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


@dataclasses.dataclass(frozen=True)
class RaterSettings:
    """The study file's ``[rater]`` table with the documented defaults applied."""

    trials_per_rater: int
    ratings_per_item: int
    training_items: int
    headphone_check: bool
    require_all_played: bool
    require_one_at_100: bool
    screening: str
    session_timeout_minutes: int
    completion_code: str
    screened_out_code: str
    max_signals_per_trial: int
    precision: float | None = None  # adaptive study: target half-width (MUSHRA points), see harness.webtest.adaptive
    max_raters: int | None = None
    resolve: tuple[str, ...] = ()
    equivalence_margin: float | None = None
    decision_error: float = 0.05

    @property
    def adaptive(self) -> bool:
        return self.precision is not None or bool(self.resolve)

    @classmethod
    def from_manifest(cls, manifest: Any) -> "RaterSettings":
        r = dict(manifest.rater or {})
        n_items = len(manifest.items)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(r) - known)
        if unknown:
            raise ManifestError(f"unknown [rater] settings {unknown}; known: {sorted(known)}")
        from harness.study_rules import RaterSettings as StudyRaterSettings  # the one place defaults live
        from harness.study_rules import check_adaptive, check_resolve_conditions

        try:
            f = StudyRaterSettings(**r).filled(n_items=n_items, study_hash=manifest.study_hash)
            s = cls(
                trials_per_rater=int(f["trials_per_rater"] or n_items),
                ratings_per_item=int(f["ratings_per_item"]),
                training_items=int(f["training_items"]),
                headphone_check=bool(f["headphone_check"]),
                require_all_played=bool(f["require_all_played"]),
                require_one_at_100=bool(f["require_one_at_100"]),
                screening=str(f["screening"]),
                session_timeout_minutes=int(f["session_timeout_minutes"]),
                completion_code=str(f["completion_code"]),
                screened_out_code=str(f["screened_out_code"]),
                max_signals_per_trial=int(f["max_signals_per_trial"]),
                precision=None if f["precision"] is None else float(f["precision"]),
                max_raters=None if f["max_raters"] is None else int(f["max_raters"]),
                resolve=tuple(f["resolve"] or ()),
                equivalence_margin=None if f["equivalence_margin"] is None else float(f["equivalence_margin"]),
                decision_error=float(f["decision_error"]),
            )
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"malformed [rater] settings ({exc})") from exc
        if not 1 <= s.trials_per_rater <= n_items:
            raise ManifestError(f"trials_per_rater={s.trials_per_rater} must be between 1 and the {n_items} items")
        if s.training_items < 0 or s.training_items > n_items:
            raise ManifestError(f"training_items={s.training_items} must be between 0 and {n_items}")
        if s.completion_code == s.screened_out_code:
            raise ManifestError("completion_code and screened_out_code must differ")
        if not 1 <= s.max_signals_per_trial <= MAX_SIGNALS:
            raise ManifestError(f"max_signals_per_trial must be 1..{MAX_SIGNALS} (ITU-R BS.1534-3)")
        problem = check_adaptive(dataclasses.asdict(s)) or check_resolve_conditions(
            s.resolve, {c.id for c in manifest.conditions})
        if problem:
            raise ManifestError(f"[rater] {problem}")
        return s
