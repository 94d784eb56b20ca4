"""The ratings store: the database the web test writes and the analysis reads.

:mod:`.models` (SQLAlchemy 2 typed tables), :mod:`.db` (engines, schema check, write lock) and :mod:`.export`
(the long ratings table and the sessions table as DataFrames).

May import: :mod:`harness.vocabulary`, :mod:`harness.errors`, :mod:`harness.manifest`; never the web test or the
analysis (both import this package)."""
