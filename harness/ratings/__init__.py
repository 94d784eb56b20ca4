"""The ratings store: the database the web test writes and the analysis reads.

:mod:`.models` (SQLAlchemy 2 typed tables), :mod:`.db` (engines, schema check, write lock) and :mod:`.export`
(the long ratings table and the sessions table as DataFrames).

May import: :mod:`harness.vocabulary`, :mod:`harness.errors`, :mod:`harness.manifest`; never the web test or the
analysis (both import this package)."""

from pathlib import Path


def default_db_url(folder: str | Path) -> str:
    """The ratings database ``serve`` uses by default: ``DIR/ratings.sqlite`` of the study folder (defined here,
    without importing SQLAlchemy, so commands that only need the path stay fast)."""
    return f"sqlite:///{Path(folder).resolve() / 'ratings.sqlite'}"
