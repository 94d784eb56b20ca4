"""One adaptive-study evaluation shared by every worker process: the worker that claims a refresh (a conditional
UPDATE of a row in ``mushra_meta``) computes the study state and stores it there as JSON; the others read that
row (one small SELECT) instead of repeating the statistics. So the cost of steering does not grow with the number
of gunicorn workers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from harness.ratings.models import Meta

STATE_KEY, CLAIM_KEY = "adaptive_state", "adaptive_claim"


def _read(key: str):
    return select(Meta.value).where(Meta.key == key)


def _write(key: str, value: str):
    return update(Meta).where(Meta.key == key).values(value=value)


def _insert(key: str, value: str):
    return insert(Meta).values(key=key, value=value)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="microseconds")  # one format: these strings compare in time order


def to_json(state) -> str:
    """The :class:`~harness.webtest.adaptive.StudyState` as JSON (infinities kept: Python's JSON reads them)."""
    d = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}  # (asdict would copy the DataFrames)
    d["computed_at"] = _iso(state.computed_at)
    d["precision"] = state.precision.to_dict("records")
    d["resolve"] = state.resolve.to_dict("records")
    d["_columns"] = [list(state.precision.columns), list(state.resolve.columns)]
    return json.dumps(d, default=float)


def from_json(payload: str, cls):
    d = json.loads(payload)
    cols = d.pop("_columns")
    d["computed_at"] = dt.datetime.fromisoformat(d["computed_at"])
    d["precision"] = pd.DataFrame(d["precision"], columns=cols[0])
    d["resolve"] = pd.DataFrame(d["resolve"], columns=cols[1])
    if len(d["precision"]):
        d["precision"]["met"] = d["precision"]["met"].astype(bool)
    return cls(**d)


def read(db, cls):
    """The shared state, or None."""
    with db.reader.connect() as conn:
        row = conn.execute(_read(STATE_KEY)).first()
    return from_json(row[0], cls) if row is not None else None


def claim(db, *, now: dt.datetime, stale_before: dt.datetime) -> bool:
    """True when this process may recompute: nobody claimed a refresh since ``stale_before``."""
    try:
        with db.write() as conn:
            claimed = update(Meta).where(Meta.key == CLAIM_KEY, Meta.value < _iso(stale_before)).values(value=_iso(now))
            if conn.execute(claimed).rowcount:
                return True
            if conn.execute(_read(CLAIM_KEY)).first() is None:
                conn.execute(_insert(CLAIM_KEY, _iso(now)))
                return True
            return False
    except IntegrityError:  # another process inserted the claim row at the same moment
        return False


def publish(db, state) -> None:
    payload = to_json(state)
    try:
        with db.write() as conn:
            if not conn.execute(_write(STATE_KEY, payload)).rowcount:
                conn.execute(_insert(STATE_KEY, payload))
    except IntegrityError:
        with db.write() as conn:
            conn.execute(_write(STATE_KEY, payload))
