"""Bounded schemas of the free-form JSON the page sends: per-trial ``telemetry`` and per-session ``device``.

Every key is known, every number finite and within a stated range (units in the names: ``_ms`` milliseconds,
``_s`` seconds), every string and map short. Anything else is refused with HTTP 400 and a message naming the
field, so an export never holds a negative play count, ``1e300`` or a 250 kB blob.
"""

from __future__ import annotations

import math
from typing import Any

from harness.webtest.flow import ApiError

DAY_MS = 86_400_000.0
MAX_COUNT = 100_000
MAX_STIMULI = 13  # 12 signals (ITU-R BS.1534-3) + the open reference

INT, NUM, STR, BOOL, MAP, PAIR = "int", "num", "str", "bool", "map", "pair"

TELEMETRY: dict[str, tuple] = {
    "plays": (MAP, (INT, 0, MAX_COUNT)),  # {stimulus_id: times selected}
    "listen_ms": (MAP, (NUM, 0.0, DAY_MS)),  # {stimulus_id: ms audible}
    "reference_plays": (INT, 0, MAX_COUNT),
    "reference_listen_ms": (NUM, 0.0, DAY_MS),
    "loop_changes": (INT, 0, MAX_COUNT),
    "loop_s": (PAIR, (NUM, 0.0, 3600.0)),  # [start, end] of the last loop region
    "time_on_page_ms": (NUM, 0.0, DAY_MS),
    "focus_losses": (INT, 0, MAX_COUNT),
    "sample_rate": (INT, 1, 768_000),  # the AudioContext's rate (Hz)
    "calibration_ms": (NUM, 0.0, DAY_MS),  # time spent on the volume-calibration step
    "load_ms": (NUM, 0.0, DAY_MS),  # time the trial's audio took to download and decode
}
DEVICE: dict[str, tuple] = {
    "screen": (PAIR, (INT, 0, 100_000)),
    "viewport": (PAIR, (INT, 0, 100_000)),
    "dpr": (NUM, 0.0, 20.0),
    "lang": (STR, 35),
    "platform": (STR, 64),
    "touch": (BOOL,),
    "tz": (STR, 64),
}


def validate(obj: Any, schema: dict[str, tuple], *, name: str, code: str) -> dict[str, Any]:
    """Return ``obj`` if it matches ``schema`` (all keys optional), else raise ``ApiError(400, code, ...)``."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ApiError(400, code, f"{name} must be a JSON object")
    unknown = sorted(set(obj) - set(schema))
    if unknown:
        raise ApiError(400, code, f"{name}: unknown fields {unknown[:5]}; allowed: {sorted(schema)}")
    for key, value in obj.items():
        _check(value, schema[key], f"{name}.{key}", code)
    return obj


def _check(v: Any, spec: tuple, where: str, code: str) -> None:
    kind = spec[0]
    if kind in (INT, NUM):
        lo, hi = spec[1], spec[2]
        ok_type = isinstance(v, int) if kind == INT else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type or not math.isfinite(v) or not lo <= v <= hi:
            what = "an integer" if kind == INT else "a number"
            raise ApiError(400, code, f"{where} must be {what} between {lo:g} and {hi:g}, got {_short(v)}")
    elif kind == STR:
        if not isinstance(v, str) or len(v) > spec[1]:
            raise ApiError(400, code, f"{where} must be a string of at most {spec[1]} characters")
    elif kind == BOOL:
        if not isinstance(v, bool):
            raise ApiError(400, code, f"{where} must be true or false")
    elif kind == PAIR:
        if not isinstance(v, list) or len(v) != 2:
            raise ApiError(400, code, f"{where} must be a list of two values")
        for i, x in enumerate(v):
            _check(x, spec[1], f"{where}[{i}]", code)
    elif kind == MAP:
        if not isinstance(v, dict) or len(v) > MAX_STIMULI:
            raise ApiError(400, code, f"{where} must be an object with at most {MAX_STIMULI} entries")
        for k, x in v.items():
            if len(k) > 32:
                raise ApiError(400, code, f"{where}: keys must be stimulus ids (at most 32 characters)")
            _check(x, spec[1], f"{where}[{k!r}]", code)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."
