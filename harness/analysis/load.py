"""Load listening-test ratings into the long ratings frame (one row per rating; columns in :data:`COLUMNS`).

Sources: a database URL (through the ratings store, :mod:`harness.ratings.export`, imported lazily), our admin CSV export, a webMUSHRA
results CSV (``session_test_id, [questionnaire...], trial_id, rating_stimulus, rating_score, rating_time,
rating_comment``, optionally ``session_uuid``), or a DataFrame already in that shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.vocabulary import CONDITION_KINDS as KINDS
from harness.vocabulary import RATING_COLUMNS as COLUMNS
from harness.vocabulary import REQUIRED_RATING_COLUMNS as REQUIRED
from harness.vocabulary import kind_of, parse_condition_id
WEBMUSHRA_COLUMNS = ("session_test_id", "trial_id", "rating_stimulus", "rating_score")


class RatingsError(HarnessError):
    """Ratings that cannot be analysed (missing columns, bad scores, unreadable file)."""


def _kind_of(condition: str) -> str:
    return str(kind_of(condition))


def validate_ratings(frame: pd.DataFrame, *, source: str = "ratings") -> pd.DataFrame:
    """Check the columns and values, fill optional columns, return a clean copy with the contract's dtypes."""
    if not isinstance(frame, pd.DataFrame):
        raise RatingsError(f"{source}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise RatingsError(
            f"{source}: missing column(s) {', '.join(missing)}; a ratings table needs at least "
            f"{', '.join(REQUIRED)} (full contract: {', '.join(COLUMNS)}). Export it with the admin page's CSV "
            "export or pass a webMUSHRA CSV.")
    df = frame.copy()
    if df.empty:
        raise RatingsError(f"{source}: contains no ratings yet")
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    bad = df["score"].isna() | (df["score"] < 0) | (df["score"] > 100)
    if bad.any():
        rows = list(np.flatnonzero(bad.to_numpy())[:5])
        raise RatingsError(f"{source}: {int(bad.sum())} score(s) missing or outside 0..100 (rows {rows}); "
                           "fix or remove those rows")
    for col in ("rater", "item", "condition"):
        df[col] = df[col].astype(str)
    if "session" not in df:
        df["session"] = df["rater"]
    df["session"] = df["session"].astype(str)
    if "kind" not in df or df["kind"].isna().any():
        guess = df["condition"].map(_kind_of)
        df["kind"] = guess if "kind" not in df else df["kind"].fillna(guess)
    unknown = sorted(set(df["kind"]) - set(KINDS))
    if unknown:
        raise RatingsError(f"{source}: unknown kind(s) {unknown}; use one of {KINDS}")
    defaults: dict[str, Any] = {"trial": -1, "codec": None, "kbps": np.nan, "measured_kbps": np.nan,
                                "category": "all", "plays": -1, "listen_ms": np.nan, "submitted_at": ""}
    for col, val in defaults.items():
        if col not in df:
            df[col] = val
    df["kbps"] = pd.to_numeric(df["kbps"], errors="coerce").astype(float)
    df["measured_kbps"] = pd.to_numeric(df["measured_kbps"], errors="coerce").astype(float)
    df["trial"] = pd.to_numeric(df["trial"], errors="coerce").fillna(-1).astype(int)
    df["plays"] = pd.to_numeric(df["plays"], errors="coerce").fillna(-1).astype(int)
    df["listen_ms"] = pd.to_numeric(df["listen_ms"], errors="coerce").astype(float)
    df["category"] = df["category"].fillna("all").astype(str).replace("", "all")
    df["codec"] = df["codec"].where(df["codec"].notna() & (df["codec"].astype(str) != ""), None)
    df["score"] = df["score"].astype(float)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra].reset_index(drop=True)


def from_db(url: str, *, study_dir: str | Path | None = None) -> pd.DataFrame:
    """Ratings from the ratings store (the web test's SQLite/PostgreSQL database, by SQLAlchemy URL)."""
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise RatingsError(f"{url}: no such SQLite database file; pass the web app's database "
                           "(the URL `mushra serve` printed), or use --ratings with a CSV export")
    try:
        from harness.ratings.export import ratings_frame
    except ImportError as exc:
        raise RatingsError(f"reading ratings from a database needs the web app (harness.ratings.export): {exc}"
                           ) from exc
    try:
        frame = ratings_frame(url, study_dir=study_dir) if study_dir is not None else ratings_frame(url)
    except HarnessError:
        raise
    except Exception as exc:  # SQLAlchemy/driver errors: wrong URL, server down, not our schema
        raise RatingsError(f"{url}: cannot read ratings ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
                           "Check the URL and that it is the web app's database.") from exc
    return validate_ratings(frame, source=url)


_WEBMUSHRA_ANCHORS = {"reference": "reference", "ref": "reference", "hidden_reference": "reference",
                      "anchor35": "lp3.5", "anchor_35": "lp3.5", "lp35": "lp3.5", "lp3.5": "lp3.5",
                      "anchor3.5": "lp3.5", "anchor70": "lp7", "anchor_70": "lp7", "anchor7": "lp7", "lp7": "lp7",
                      "lp70": "lp7"}


def from_webmushra(frame: pd.DataFrame, *, source: str = "webMUSHRA CSV") -> pd.DataFrame:
    """Map a webMUSHRA ``mushra.csv`` to the ratings frame.

    Stimulus names ``reference``/``anchor35``/``anchor70`` map to ``reference``/``lp3.5``/``lp7``; other names
    are codec conditions (``CODEC_KBPS`` or ``CODEC@KBPS`` gives codec and nominal kbps). The rater is
    ``session_uuid`` when present; otherwise a new session starts whenever a (trial, stimulus) pair repeats.
    """
    missing = [c for c in WEBMUSHRA_COLUMNS if c not in frame.columns]
    if missing:
        raise RatingsError(f"{source}: not a webMUSHRA results file (missing {', '.join(missing)})")
    df = frame.reset_index(drop=True)
    if "session_uuid" in df:
        rater = df["session_uuid"].astype(str)
    else:
        seen: set = set()
        n, ids = 0, []
        for t, s, test in zip(df["trial_id"], df["rating_stimulus"], df["session_test_id"]):
            if (t, s) in seen:
                n, seen = n + 1, set()
            seen.add((t, s))
            ids.append(f"{test}#{n}")
        rater = pd.Series(ids)
    stim = df["rating_stimulus"].astype(str)
    cond = stim.map(lambda s: _WEBMUSHRA_ANCHORS.get(s.strip().lower(), s))
    parsed = cond.map(_parse_codec_condition)
    trial_order = df.groupby(rater, sort=False).cumcount()
    out = pd.DataFrame({
        "rater": rater, "session": rater, "item": df["trial_id"].astype(str), "condition": cond,
        "score": df["rating_score"], "trial": trial_order, "codec": [p[0] for p in parsed],
        "kbps": [p[1] for p in parsed], "measured_kbps": np.nan, "category": "all",
        "kind": cond.map(_kind_of), "plays": -1,
        "listen_ms": pd.to_numeric(df.get("rating_time", np.nan), errors="coerce"), "submitted_at": "",
    })
    return validate_ratings(out, source=source)


def _parse_codec_condition(cond: str) -> tuple[str | None, float]:
    return parse_condition_id(cond, loose=True)


def from_csv(path: str | Path) -> pd.DataFrame:
    """Our admin CSV export, or a webMUSHRA results CSV (detected by its columns)."""
    p = Path(path)
    if not p.is_file():
        raise RatingsError(f"{p}: ratings file not found")
    try:
        df = pd.read_csv(p, keep_default_na=True)
    except Exception as exc:
        raise RatingsError(f"{p}: cannot read as CSV ({exc})") from exc
    if all(c in df.columns for c in WEBMUSHRA_COLUMNS):
        return from_webmushra(df, source=str(p))
    return validate_ratings(df, source=str(p))


def load_ratings(source: Any, *, study_dir: str | Path | None = None) -> pd.DataFrame:
    """A DataFrame, a CSV path, or a database URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""
    if isinstance(source, pd.DataFrame):
        if all(c in source.columns for c in WEBMUSHRA_COLUMNS) and "rater" not in source.columns:
            return from_webmushra(source)
        return validate_ratings(source)
    s = str(source)
    if "://" in s:
        return from_db(s, study_dir=study_dir)
    return from_csv(s)


def attach_manifest(frame: pd.DataFrame, manifest) -> pd.DataFrame:
    """Fill codec/kbps/measured_kbps/category/kind from a study manifest where the ratings lack them."""
    df = frame.copy()
    cat = {i.id: i.category for i in manifest.items}
    cond = {c.id: c for c in manifest.conditions}
    measured = {(s.item, s.condition): float(s.measured_kbps) for s in manifest.stimuli
                if s.measured_kbps is not None}  # per stimulus, so per-category curves use their own bitrate
    item_cat = df["item"].map(cat)
    df["category"] = np.where((df["category"] == "all") & item_cat.notna(), item_cat, df["category"])
    for col, get in (("codec", lambda c: c.codec), ("kbps", lambda c: c.kbps)):
        vals = df["condition"].map(lambda x, g=get: g(cond[x]) if x in cond else None)
        df[col] = df[col].where(df[col].notna(), vals)
    meas = pd.Series([measured.get(k, np.nan) for k in zip(df["item"], df["condition"])], index=df.index)
    df["measured_kbps"] = df["measured_kbps"].where(df["measured_kbps"].notna(), meas)
    kinds = df["condition"].map(lambda x: cond[x].kind if x in cond else None)
    df["kind"] = kinds.where(kinds.notna(), df["kind"])
    df["kbps"] = pd.to_numeric(df["kbps"], errors="coerce").astype(float)
    return df
