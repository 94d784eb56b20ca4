"""Constants and rater settings of the study file (kept apart from :mod:`harness.study` to keep modules small).

Numbers from ITU-R BS.1534-3: at most 12 signals per trial counting the hidden reference and anchors; anchors
are low-pass filtered references at 3.5 kHz (low) and 7 kHz (mid); post-screening of assessors ("bs1534"), or the
EnCodec paper's crowd rule ("encodec": Defossez et al. 2022, arXiv 2210.13438).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

SCHEMA_VERSION = 1
ANCHORS = ("lp3.5", "lp7")
CATEGORIES = ("speech", "music", "mixed", "other")
MAX_SIGNALS_PER_TRIAL = 12  # ITU-R BS.1534-3, section 5.1
SCREENING_PRESETS = ("bs1534", "encodec")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # item and condition ids (used in file names)


def fmt_kbps(kbps: float) -> str:
    """``1.5 -> "1.5"``, ``12.0 -> "12"`` (condition ids such as ``opus_12kbps``)."""
    return f"{float(kbps):g}"


@dataclasses.dataclass(frozen=True)
class RaterSettings:
    """The ``[rater]`` table; ``None`` means "derive the default" (see :meth:`filled`)."""

    trials_per_rater: int | None = None  # default: every item
    ratings_per_item: int = 10
    training_items: int = 1
    headphone_check: bool = False
    require_all_played: bool = True
    require_one_at_100: bool = True
    screening: str = "bs1534"
    session_timeout_minutes: int = 60
    completion_code: str | None = None  # default: derived from the study hash
    screened_out_code: str | None = None  # default: derived from the study hash
    max_signals_per_trial: int = MAX_SIGNALS_PER_TRIAL
    allow_direct: bool = True  # False: only crowd links (Prolific/MTurk ids) may start a session
    require_full_listening: bool = False  # True: reject (not just flag) trials submitted without listening evidence
    min_listen_fraction: float = 0.5  # a trial may be submitted this fraction of (signals x excerpt length) after its audio
    text: dict = dataclasses.field(default_factory=dict)  # rater-facing text overrides (English), see docs/webapp.md
    translations: dict = dataclasses.field(default_factory=dict)  # {"de": {key: text, ...}, ...} chosen by ?lang=

    def filled(self, *, n_items: int, study_hash: str) -> dict[str, Any]:
        """Every key with its default applied, as written to ``manifest.json``'s ``rater``."""
        d = dataclasses.asdict(self)
        if d["trials_per_rater"] is None:
            d["trials_per_rater"] = n_items
        if d["completion_code"] is None:
            d["completion_code"] = "C" + study_hash[:8].upper()
        if d["screened_out_code"] is None:
            d["screened_out_code"] = "S" + study_hash[8:16].upper()
        return d


_TYPES = {"trials_per_rater": "int", "ratings_per_item": "int", "training_items": "int", "headphone_check": "bool",
          "require_all_played": "bool", "require_one_at_100": "bool", "screening": "str",
          "session_timeout_minutes": "int", "completion_code": "str", "screened_out_code": "str",
          "max_signals_per_trial": "int", "allow_direct": "bool", "require_full_listening": "bool",
          "min_listen_fraction": "number", "text": "table", "translations": "table"}


def check_rater(ctx, table: Mapping[str, Any], *, n_items: int) -> RaterSettings:
    """Validate the ``[rater]`` table (``ctx`` is the study parser's error helper)."""
    path = ("rater",)
    if not isinstance(table, dict):
        raise ctx.error(path, "[rater] must be a table")
    ctx.unknown_keys(table, tuple(_TYPES), path, "[rater]")
    vals = {k: ctx.get(table, k, kind, path) for k, kind in _TYPES.items() if k in table}

    def bad(key: str, msg: str):
        return ctx.error(path + (key,), msg)

    for key in ("trials_per_rater", "ratings_per_item", "session_timeout_minutes"):
        if key in vals and vals[key] < 1:
            raise bad(key, f"{key} must be at least 1, got {vals[key]}")
    if vals.get("trials_per_rater", 1) > n_items:
        raise bad("trials_per_rater", f"trials_per_rater {vals['trials_per_rater']} exceeds the {n_items} items of "
                                      "the study; lower it or add items")
    if not 0 <= vals.get("training_items", 0) <= n_items:
        raise bad("training_items", f"training_items must be between 0 and the {n_items} items, got "
                                    f"{vals['training_items']}")
    if vals.get("screening", "bs1534") not in SCREENING_PRESETS:
        raise bad("screening", f"screening must be one of {', '.join(SCREENING_PRESETS)}, got {vals['screening']!r}")
    for key in ("completion_code", "screened_out_code"):
        if key in vals and not vals[key].strip():
            raise bad(key, f"{key} must not be empty (leave it out to derive one from the study hash)")
    m = vals.get("max_signals_per_trial", MAX_SIGNALS_PER_TRIAL)
    if not 2 <= m <= MAX_SIGNALS_PER_TRIAL:
        raise bad("max_signals_per_trial", f"max_signals_per_trial must be 2-{MAX_SIGNALS_PER_TRIAL} (ITU-R "
                                           f"BS.1534-3 allows at most 12 signals per trial), got {m}")
    spare = n_items - vals.get("trials_per_rater", n_items)
    if vals.get("training_items", 1) > spare:
        import warnings

        warnings.warn(f"[rater] training_items={vals.get('training_items', 1)} but only {spare} of the {n_items} items "
                      f"are not rated by each rater (trials_per_rater={vals.get('trials_per_rater', n_items)}): "
                      "raters will train on items they then rate. Add items or lower trials_per_rater.",
                      UserWarning, stacklevel=2)
    if not 0 <= vals.get("min_listen_fraction", 0.5) <= 1:
        raise bad("min_listen_fraction", f"min_listen_fraction must be between 0 and 1, got {vals['min_listen_fraction']}")
    return RaterSettings(**vals)
