"""Words shared by several parts of the harness: the one place they are defined.

The web test, the analysis, ``prepare`` and the study file all import from here (and the web test and the
analysis meet only here and in :mod:`harness.ratings`). Nothing in this module imports another part of the
harness except :mod:`harness.errors`.

Numbers from ITU-R BS.1534-3 ("Method for the subjective assessment of intermediate quality level of audio
systems", 2015): at most 12 signals per trial counting the hidden reference and the anchors (section 5.1);
anchors are the reference low-pass filtered at 3.5 kHz (low anchor) and 7 kHz (mid anchor) (section 4.1).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from typing import Any, Mapping

# --- condition kinds -----------------------------------------------------------------------------------------
class ConditionKind(enum.StrEnum):
    """What a rated signal is: the hidden reference, a low-pass anchor, or a codec condition."""

    REFERENCE = "reference"
    ANCHOR = "anchor"
    CODEC = "codec"


HIDDEN_REFERENCE = "reference"  # condition id of the hidden reference
LOW_ANCHOR = "lp3.5"  # 3.5 kHz low-pass anchor (BS.1534-3 section 4.1)
MID_ANCHOR = "lp7"  # 7 kHz low-pass mid anchor
ANCHORS = (LOW_ANCHOR, MID_ANCHOR)
ANCHOR_CUTOFF_HZ = {LOW_ANCHOR: 3500.0, MID_ANCHOR: 7000.0}
CONDITION_KINDS = tuple(k.value for k in ConditionKind)


def kind_of(condition: str) -> ConditionKind:
    """The kind of a condition id: ``reference``; ``anchor`` exactly for :data:`ANCHORS` (a codec named
    ``lpcnet_1.6kbps`` is a codec); every other id is a ``codec`` condition."""
    if condition == HIDDEN_REFERENCE:
        return ConditionKind.REFERENCE
    if condition in ANCHORS:
        return ConditionKind.ANCHOR
    return ConditionKind.CODEC


# --- ids ---------------------------------------------------------------------------------------------------
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # item and condition ids (used in file names)
_CONDITION_ID = re.compile(r"^(?P<codec>.+?)(?:_(?P<k1>[0-9]+(?:\.[0-9]+)?)kbps|@(?P<k2>[0-9]+(?:\.[0-9]+)?))$")
_LOOSE_CONDITION_ID = re.compile(r"^(.+?)[_@-]([0-9]+(?:\.[0-9]+)?)(?:kbps|k)?$")


def fmt_kbps(kbps: float) -> str:
    """``1.5 -> "1.5"``, ``12.0 -> "12"`` (as written in condition ids)."""
    return f"{float(kbps):g}"


def condition_id(codec: str, kbps: float) -> str:
    """The one id convention for a codec at a bitrate, in studies and evaluation cells alike: ``opus_12kbps``."""
    return f"{codec}_{fmt_kbps(kbps)}kbps"


def parse_condition_id(cid: str, *, loose: bool = False) -> tuple[str | None, float]:
    """``(codec, nominal kbps)`` of a codec condition id: ``opus_12kbps``, or the older evaluation form
    ``opus@12`` (still read). Anchors and the reference give ``(None, nan)``; an id that names no bitrate gives
    ``(id, nan)``. ``loose`` also accepts ``opus-12``, ``opus_12`` and ``opus_12k`` (webMUSHRA stimulus names)."""
    if kind_of(cid) is not ConditionKind.CODEC:
        return None, math.nan
    m = _CONDITION_ID.match(cid)
    if m:
        return m.group("codec"), float(m.group("k1") or m.group("k2"))
    if loose:
        m = _LOOSE_CONDITION_ID.match(cid)
        if m:
            return m.group(1), float(m.group(2))
    return cid, math.nan


def normalize_condition_id(cid: str) -> str:
    """The current form of a condition id: the older evaluation form ``opus@12`` becomes ``opus_12kbps``; every
    other id is returned unchanged (so results files written before the change compare with new ones)."""
    if "@" in cid:
        codec, kbps = parse_condition_id(cid)
        if codec is not None and not math.isnan(kbps):
            return condition_id(codec, kbps)
    return cid


# --- trials and sessions of the web test (values are stored in the ratings database and sent by the API) ----
class TrialKind(enum.StrEnum):
    TRAINING = "training"
    HEADPHONE = "headphone"
    MUSHRA = "mushra"
    QUESTIONNAIRE = "questionnaire"


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    DONE = "done"
    SCREENED_OUT = "screened_out"


# --- BS.1534-3 limits ---------------------------------------------------------------------------------------
MAX_SIGNALS_PER_TRIAL = 12  # ITU-R BS.1534-3 section 5.1: hidden reference and anchors included
MIN_SIGNALS_PER_TRIAL = 2  # a trial rates at least the hidden reference and one other signal
CATEGORIES = ("speech", "music", "mixed", "other")


# --- post-screening ---------------------------------------------------------------------------------------------
class ScreeningPreset(enum.StrEnum):
    """``bs1534``: ITU-R BS.1534-3 section 4.1.2 post-screening; ``encodec``: the crowd rule of the EnCodec
    paper (Defossez et al. 2022, arXiv 2210.13438)."""

    BS1534 = "bs1534"
    ENCODEC = "encodec"


SCREENING_PRESETS = tuple(p.value for p in ScreeningPreset)


# --- rater settings ([rater] of the study file, ``rater`` of manifest.json) ---------------------------------
@dataclasses.dataclass(frozen=True)
class RaterSettings:
    """The study file's ``[rater]`` table. ``None`` means "derive the default"; :meth:`resolved` fills every
    default (what ``manifest.json`` records and the web test serves with)."""

    trials_per_rater: int | None = None  # default: every item
    ratings_per_item: int = 10
    training_items: int = 1
    headphone_check: bool = False
    require_all_played: bool = True
    require_one_at_100: bool = True
    screening: str = ScreeningPreset.BS1534.value
    exclude_flagged: bool = False  # True: raters with flags (e.g. trials without listening evidence) are screened out
    session_timeout_minutes: int = 60
    completion_code: str | None = None  # default: derived from the study hash
    screened_out_code: str | None = None  # default: derived from the study hash
    max_signals_per_trial: int = MAX_SIGNALS_PER_TRIAL
    allow_direct: bool = True  # False: only crowd links (Prolific/MTurk ids) may start a session
    require_full_listening: bool = False  # True: reject (not just flag) trials submitted without listening evidence
    min_listen_fraction: float = 0.5  # of (signals x excerpt length): earliest submission after the first download
    text: dict = dataclasses.field(default_factory=dict)  # rater-facing text overrides (see harness.webtest.texts)
    translations: dict = dataclasses.field(default_factory=dict)  # {"de": {key: text}, ...} chosen by ?lang=
    # adaptive studies (harness.webtest.adaptive): stop on evidence instead of at ratings_per_item
    precision: float | None = None  # target half-width (MUSHRA points) of the rater-aware 95 % interval
    max_raters: int | None = None  # budget cap: raters who finish a session
    resolve: tuple[str, ...] = ()  # "cond_a vs cond_b": decide each difference (anytime-valid)
    equivalence_margin: float | None = None  # MUSHRA points; a difference inside +-margin is "equivalent"
    decision_error: float = 0.05  # chance of a wrong decision per named difference and category

    @property
    def adaptive(self) -> bool:
        """True when the study stops on precision or decisions (``precision`` or ``resolve`` set)."""
        return self.precision is not None or bool(self.resolve)

    def filled(self, *, n_items: int, study_hash: str) -> dict[str, Any]:
        """Every key with its default applied, as written to ``manifest.json``'s ``rater`` (JSON types: tuples
        become lists, so a manifest read back equals the one written)."""
        d = dataclasses.asdict(self.resolved(n_items=n_items, study_hash=study_hash))
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def resolved(self, *, n_items: int, study_hash: str) -> "RaterSettings":
        """A copy with every ``None`` default derived (trials per rater, completion codes)."""
        return dataclasses.replace(
            self,
            trials_per_rater=n_items if self.trials_per_rater is None else self.trials_per_rater,
            completion_code=self.completion_code or "C" + study_hash[:8].upper(),
            screened_out_code=self.screened_out_code or "S" + study_hash[8:16].upper())

    def problems(self, *, n_items: int) -> list[tuple[str, str]]:
        """``(key, message)`` for every value out of range (checked by the study parser and by ``serve``)."""
        out: list[tuple[str, str]] = []
        for key in ("trials_per_rater", "ratings_per_item", "session_timeout_minutes"):
            v = getattr(self, key)
            if v is not None and v < 1:
                out.append((key, f"{key} must be at least 1, got {v}"))
        if self.trials_per_rater is not None and self.trials_per_rater > n_items:
            out.append(("trials_per_rater", f"trials_per_rater {self.trials_per_rater} exceeds the {n_items} "
                                            "items of the study; lower it or add items"))
        if not 0 <= self.training_items <= n_items:
            out.append(("training_items", f"training_items must be between 0 and the {n_items} items, got "
                                          f"{self.training_items}"))
        if self.screening not in SCREENING_PRESETS:
            out.append(("screening", f"screening must be one of {', '.join(SCREENING_PRESETS)}, got "
                                     f"{self.screening!r}"))
        for key in ("completion_code", "screened_out_code"):
            v = getattr(self, key)
            if v is not None and not str(v).strip():
                out.append((key, f"{key} must not be empty (leave it out to derive one from the study hash)"))
        if (self.completion_code is not None and self.completion_code == self.screened_out_code):
            out.append(("screened_out_code", "completion_code and screened_out_code must differ"))
        if not 0 <= self.min_listen_fraction <= 1:
            out.append(("min_listen_fraction", f"min_listen_fraction must be between 0 and 1, got "
                                               f"{self.min_listen_fraction}"))
        m = self.max_signals_per_trial
        if not MIN_SIGNALS_PER_TRIAL <= m <= MAX_SIGNALS_PER_TRIAL:
            out.append(("max_signals_per_trial", f"max_signals_per_trial must be {MIN_SIGNALS_PER_TRIAL}-"
                                                 f"{MAX_SIGNALS_PER_TRIAL} (ITU-R BS.1534-3 allows at most 12 "
                                                 f"signals per trial), got {m}"))
        out.extend(self._adaptive_problems())
        return out

    def _adaptive_problems(self) -> list[tuple[str, str]]:
        prec, cap, resolve = self.precision, self.max_raters, list(self.resolve)
        out: list[tuple[str, str]] = []
        if prec is not None and not 0.5 <= prec <= 50:
            out.append(("precision", "precision is the target half-width of the 95 % interval in MUSHRA points; "
                                     f"use 0.5-50 (5 is common), got {prec:g}"))
        if cap is not None and cap < 2:
            out.append(("max_raters", f"max_raters must be at least 2, got {cap}"))
        pairs = []
        for entry in resolve:
            try:
                pairs.append(parse_resolve(entry))
            except ValueError as exc:
                out.append(("resolve", str(exc)))
        if len(set(pairs)) != len(pairs):
            out.append(("resolve", "a difference is listed twice"))
        margin, err = self.equivalence_margin, self.decision_error
        if resolve and margin is None:
            out.append(("resolve", "resolve needs equivalence_margin (MUSHRA points): a difference whose interval "
                                   "lies within +-margin is called equivalent, e.g. equivalence_margin = 3"))
        if margin is not None and not 0 < margin <= 50:
            out.append(("equivalence_margin", f"equivalence_margin must be in (0, 50] MUSHRA points, got {margin:g}"))
        if not 0 < err <= 0.2:
            out.append(("decision_error", f"decision_error must be in (0, 0.2] (0.05 is usual), got {err:g}"))
        if self.adaptive and cap is None:
            out.append(("precision" if prec is not None else "resolve",
                        "an adaptive study (precision or resolve) needs max_raters, the budget cap in raters who "
                        "finish a session; e.g. max_raters = 200"))
        if cap is not None and not self.adaptive:
            out.append(("max_raters", "max_raters caps an adaptive study; set precision (and/or resolve) too"))
        return out

    def training_warning(self, *, n_items: int) -> str | None:
        """A one-line warning when raters must train on items they then rate (too few spare items), else None."""
        rated = n_items if self.trials_per_rater is None else self.trials_per_rater
        spare = n_items - rated
        if self.training_items <= spare:
            return None
        return (f"[rater] training_items={self.training_items} but only {spare} of the {n_items} items are not "
                f"rated by each rater (trials_per_rater={rated}): raters will train on items they then rate. "
                "Add items or lower trials_per_rater.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "RaterSettings":
        """Settings from a plain mapping (``manifest.json``'s ``rater``); raises ``ValueError`` naming unknown
        keys or values of the wrong type."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown [rater] settings {unknown}; known: {sorted(known)}")
        conv = {"int": int, "bool": bool, "str": str, "number": float, "table": dict,
                "list": lambda v: tuple(str(x) for x in v)}
        out = {}
        for key, v in values.items():
            if v is None:
                out[key] = None
                continue
            kind = RATER_FIELD_TYPES[key]
            if kind == "int" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v)):
                raise ValueError(f"[rater] {key} must be a whole number, got {v!r}")
            if kind == "bool" and not isinstance(v, bool):
                raise ValueError(f"[rater] {key} must be true or false, got {v!r}")
            if kind == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"[rater] {key} must be a number, got {v!r}")
            if kind == "list" and not isinstance(v, (list, tuple)):
                raise ValueError(f"[rater] {key} must be a list, got {v!r}")
            if kind == "table" and not isinstance(v, dict):
                raise ValueError(f"[rater] {key} must be a table, got {v!r}")
            out[key] = conv[kind](v)
        return cls(**out)


RATER_FIELD_TYPES = {"trials_per_rater": "int", "ratings_per_item": "int", "training_items": "int",
                     "headphone_check": "bool", "require_all_played": "bool", "require_one_at_100": "bool",
                     "screening": "str", "exclude_flagged": "bool", "session_timeout_minutes": "int", "completion_code": "str",
                     "screened_out_code": "str", "max_signals_per_trial": "int", "allow_direct": "bool",
                     "require_full_listening": "bool", "min_listen_fraction": "number", "text": "table",
                     "translations": "table", "precision": "number", "max_raters": "int", "resolve": "list",
                     "equivalence_margin": "number", "decision_error": "number"}
RESOLVE_PATTERN = re.compile(r"^\s*(\S+)\s+vs\s+(\S+)\s*$")


def parse_resolve(entry: Any) -> tuple[str, str]:
    """``"codec_a vs codec_b"`` -> ``("codec_a", "codec_b")`` (``[rater] resolve``); ValueError otherwise."""
    m = RESOLVE_PATTERN.match(entry) if isinstance(entry, str) else None
    if m is None or m.group(1) == m.group(2):
        raise ValueError(f"resolve entry {entry!r} must read \"CONDITION_A vs CONDITION_B\" with two different "
                         "condition ids, e.g. \"opus_12kbps vs encodec_12kbps\"")
    return m.group(1), m.group(2)


def resolve_condition_problem(resolve: tuple[str, ...], condition_ids: set[str]) -> str | None:
    """A message naming the first ``resolve`` condition that is not in the study (None when all are)."""
    for entry in resolve:
        for c in parse_resolve(entry):
            if c not in condition_ids:
                return f"resolve names condition {c!r}, which is not in the study; known: {sorted(condition_ids)}"
    return None


# --- ratings (the long table: one row per rating) --------------------------------------------------------------
RATING_COLUMNS = ("rater", "session", "item", "condition", "score", "trial", "codec", "kbps", "measured_kbps",
                  "category", "kind", "plays", "listen_ms", "submitted_at")
REQUIRED_RATING_COLUMNS = ("rater", "item", "condition", "score")
SCORE_RANGE = (0.0, 100.0)  # MUSHRA scale (BS.1534-3 section 5.3)
