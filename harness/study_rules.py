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
    # adaptive studies (harness.webtest.adaptive): stop on evidence instead of at ratings_per_item
    precision: float | None = None  # target half-width (MUSHRA points) of the rater-aware 95 % interval
    max_raters: int | None = None  # budget cap: counted raters (not screened out, not excluded)
    resolve: tuple[str, ...] = ()  # "cond_a vs cond_b": decide each difference (anytime-valid)
    equivalence_margin: float | None = None  # MUSHRA points; |difference| below it counts as "equivalent"
    decision_error: float = 0.05  # probability of a wrong decision per named difference and category

    @property
    def adaptive(self) -> bool:
        return self.precision is not None or bool(self.resolve)

    def filled(self, *, n_items: int, study_hash: str) -> dict[str, Any]:
        """Every key with its default applied, as written to ``manifest.json``'s ``rater``."""
        d = dataclasses.asdict(self)
        if d["trials_per_rater"] is None:
            d["trials_per_rater"] = n_items
        if d["completion_code"] is None:
            d["completion_code"] = "C" + study_hash[:8].upper()
        if d["screened_out_code"] is None:
            d["screened_out_code"] = "S" + study_hash[8:16].upper()
        d["resolve"] = list(d["resolve"])
        return d


_TYPES = {"trials_per_rater": "int", "ratings_per_item": "int", "training_items": "int", "headphone_check": "bool",
          "require_all_played": "bool", "require_one_at_100": "bool", "screening": "str",
          "session_timeout_minutes": "int", "completion_code": "str", "screened_out_code": "str",
          "max_signals_per_trial": "int", "precision": "number", "max_raters": "int", "resolve": "list",
          "equivalence_margin": "number", "decision_error": "number"}
RESOLVE_PATTERN = re.compile(r"^\s*(\S+)\s+vs\s+(\S+)\s*$")


def parse_resolve(entry: Any) -> tuple[str, str]:
    """``"codec_a vs codec_b"`` -> ``("codec_a", "codec_b")``; ValueError with the expected form otherwise."""
    m = RESOLVE_PATTERN.match(entry) if isinstance(entry, str) else None
    if m is None or m.group(1) == m.group(2):
        raise ValueError(f"resolve entry {entry!r} must read \"CONDITION_A vs CONDITION_B\" with two different "
                         "condition ids, e.g. \"opus_12kbps vs encodec_12kbps\"")
    return m.group(1), m.group(2)


def check_adaptive(vals: Mapping[str, Any]) -> str | None:
    """The adaptive settings' rules; returns ``"key: message"`` for the first broken one (None when fine).
    Shared by the study parser and the web app's manifest check."""
    prec, cap, resolve = vals.get("precision"), vals.get("max_raters"), list(vals.get("resolve") or ())
    if prec is not None and not 0.5 <= prec <= 50:
        return f"precision: precision is the target half-width of the 95 % interval in MUSHRA points; use 0.5-50 " \
               f"(5 is common), got {prec:g}"
    if cap is not None and cap < 2:
        return f"max_raters: max_raters must be at least 2, got {cap}"
    for entry in resolve:
        try:
            parse_resolve(entry)
        except ValueError as exc:
            return f"resolve: {exc}"
    if len(set(map(parse_resolve, resolve))) != len(resolve):
        return "resolve: a difference is listed twice"
    margin, err = vals.get("equivalence_margin"), vals.get("decision_error", 0.05)
    if resolve and margin is None:
        return ("resolve: resolve needs equivalence_margin (MUSHRA points): a difference whose interval lies "
                "within +-margin is called equivalent, e.g. equivalence_margin = 3")
    if margin is not None and not 0 < margin <= 50:
        return f"equivalence_margin: equivalence_margin must be in (0, 50] MUSHRA points, got {margin:g}"
    if not 0 < err <= 0.2:
        return f"decision_error: decision_error must be in (0, 0.2] (0.05 is usual), got {err:g}"
    if (prec is not None or resolve) and cap is None:
        return (("precision" if prec is not None else "resolve") + ": an adaptive study (precision or resolve) needs max_raters, the budget cap in raters "
                "that count (not screened out); e.g. max_raters = 200")
    if cap is not None and prec is None and not resolve:
        return "max_raters: max_raters caps an adaptive study; set precision (and/or resolve) too"
    return None


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
    problem = check_adaptive(vals)
    if problem:
        key, msg = problem.split(": ", 1)
        raise bad(key, msg)
    if "resolve" in vals:
        vals["resolve"] = tuple(f"{a} vs {b}" for a, b in map(parse_resolve, vals["resolve"]))
    return RaterSettings(**vals)


def check_resolve_conditions(resolve: tuple[str, ...], condition_ids: set[str]) -> str | None:
    """A message naming the first ``resolve`` condition that is not in the study (None when all are)."""
    for entry in resolve:
        for c in parse_resolve(entry):
            if c not in condition_ids:
                return f"resolve names condition {c!r}, which is not in the study; known: {sorted(condition_ids)}"
    return None
