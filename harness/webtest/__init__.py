"""The MUSHRA web app (ITU-R BS.1534-3 crowd test): Flask app factory, JSON API, rater pages, admin, export.

``create_app(config)`` builds the app; ``mushra serve DIR`` runs it under gunicorn (see :mod:`.server`).
"""

from harness.webtest.config import AppConfig

__all__ = ["AppConfig", "create_app"]


def create_app(config: AppConfig):  # noqa: D103 - re-exported lazily so importing the package stays cheap
    from harness.webtest.app import create_app as _create

    return _create(config)
