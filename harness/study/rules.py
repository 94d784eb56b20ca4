"""The study file's ``[rater]`` table and the constants the study parser checks against.

The words and limits themselves (anchors, categories, the 12-signal rule of ITU-R BS.1534-3, screening presets,
:class:`~harness.vocabulary.RaterSettings`) live in :mod:`harness.vocabulary`; they are re-exported here for the
study parser.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from harness.vocabulary import (  # noqa: F401 - re-exported for the study parser
    ANCHORS, CATEGORIES, ID_PATTERN, MAX_SIGNALS_PER_TRIAL, RATER_FIELD_TYPES, SCREENING_PRESETS, RaterSettings,
    fmt_kbps, parse_resolve, resolve_condition_problem,
)

SCHEMA_VERSION = 1


def check_rater(ctx, table: Mapping[str, Any], *, n_items: int) -> RaterSettings:
    """Validate the ``[rater]`` table (``ctx`` is the study parser's error helper)."""
    path = ("rater",)
    if not isinstance(table, dict):
        raise ctx.error(path, "[rater] must be a table")
    ctx.unknown_keys(table, tuple(RATER_FIELD_TYPES), path, "[rater]")
    vals = {k: ctx.get(table, k, kind, path) for k, kind in RATER_FIELD_TYPES.items() if k in table}
    if "resolve" in vals:
        vals["resolve"] = tuple(vals["resolve"])
    settings = RaterSettings(**vals)
    for key, msg in settings.problems(n_items=n_items):
        raise ctx.error(path + (key,), msg)
    if settings.resolve:  # one spelling: "a vs b"
        settings = dataclasses.replace(settings, resolve=tuple(f"{a} vs {b}"
                                                               for a, b in map(parse_resolve, settings.resolve)))
    warning = settings.training_warning(n_items=n_items)
    if warning:
        import warnings

        warnings.warn(warning, UserWarning, stacklevel=2)
    return settings
