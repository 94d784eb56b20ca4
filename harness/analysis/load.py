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
    for col in ("screened_out", "excluded"):  # the admin export keeps these raters, marked: analyse without them
        if col in df:
            gone = df[col].astype(str).str.lower().isin(("true", "1"))
            if gone.any():
                import warnings

                warnings.warn(f"{source}: left out {int(gone.sum())} ratings of {col.replace('_', '-')} raters "
                              f"(column {col})", stacklevel=2)
                df = df[~gone]
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


RATER_ID_COLUMNS = ("session_uuid", "email", "participant_email", "participant", "participant_id",
                    "participant_name", "prolific_pid", "prolific_id", "worker_id", "workerid", "subject",
                    "subject_id", "listener", "listener_id", "user_id", "name", "id")
WEBMUSHRA_TAIL = ("trial_id", "rating_stimulus", "rating_score", "rating_time", "rating_comment")


class RatingsWarning(UserWarning):
    """Ratings that load but deserve a look (e.g. a weak rater identity)."""


def _usable_id(col: pd.Series) -> bool:
    v = col.astype(str).str.strip()
    return bool(len(v)) and not (col.isna() | v.isin(["", "nan", "None", "anonymous", "-"])).any()


def rater_identity(frame: pd.DataFrame, *, rater_column: str | None = None, source: str = "ratings"
                   ) -> tuple[pd.Series, str]:
    """The rater id of every row and the column it came from: ``rater_column`` if given, else the first complete
    column of :data:`RATER_ID_COLUMNS` (case-insensitive). Never row order: without one, a :class:`RatingsError`."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    if rater_column is not None:
        col = lower.get(rater_column.strip().lower())
        if col is None:
            raise RatingsError(f"{source}: no column '{rater_column}' (columns: {', '.join(map(str, frame.columns))})")
        if not _usable_id(frame[col]):
            raise RatingsError(f"{source}: rater column '{col}' is empty on some rows; every rating needs its rater")
        return frame[col].astype(str).str.strip(), str(col)
    for name in RATER_ID_COLUMNS:
        col = lower.get(name)
        if col is not None and _usable_id(frame[col]):
            return frame[col].astype(str).str.strip(), str(col)
    extra = [str(c) for c in frame.columns if str(c) not in ("session_test_id",) + WEBMUSHRA_TAIL]
    hint = f" Columns that might identify raters: {', '.join(extra)}; pass --rater-column NAME." if extra else (
        " This file records no participant at all: add a participant field (e.g. email) or session_uuid to the "
        "webMUSHRA config, or add a rater column to the CSV.")
    raise RatingsError(f"{source}: no column identifies the raters (looked for {', '.join(RATER_ID_COLUMNS[:4])}, "
                       f"...). Raters are never guessed from row order (a re-sorted file would give wrong raters)."
                       + hint)


def from_webmushra(frame: pd.DataFrame, *, source: str = "webMUSHRA CSV", rater_column: str | None = None
                   ) -> pd.DataFrame:
    """Map a webMUSHRA ``mushra.csv`` (old format: ``session_test_id, [participant fields], trial_id, ...``;
    current: with ``session_uuid`` before ``trial_id``) to the ratings frame, in any row order.

    Stimulus names ``reference``/``anchor35``/``anchor70`` map to ``reference``/``lp3.5``/``lp7``; other names
    are codec conditions (``CODEC_KBPS``/``CODEC@KBPS`` give codec and nominal kbps; ``C1`` keeps no bitrate).
    The rater is the first complete identity column (:func:`rater_identity`); participant fields are kept as
    extra columns so outputs can name raters by them.
    """
    missing = [c for c in WEBMUSHRA_COLUMNS if c not in frame.columns]
    if missing:
        raise RatingsError(f"{source}: not a webMUSHRA results file (missing {', '.join(missing)})")
    df = frame.reset_index(drop=True)
    if "rating_stimulus" in df and (df["trial_id"].astype(str) == "trial_id").any():  # header repeated on append
        df = df[df["trial_id"].astype(str) != "trial_id"].reset_index(drop=True)
    rater, id_col = rater_identity(df, rater_column=rater_column, source=source)
    session = df["session_uuid"].astype(str) if "session_uuid" in df and _usable_id(df["session_uuid"]) else rater
    stim = df["rating_stimulus"].astype(str).str.strip()
    cond = stim.map(lambda s: _WEBMUSHRA_ANCHORS.get(s.lower(), s))
    parsed = cond.map(_parse_codec_condition)
    trial_order = df.groupby(rater, sort=False).cumcount()
    out = pd.DataFrame({
        "rater": rater, "session": session, "item": df["trial_id"].astype(str).str.strip(), "condition": cond,
        "score": df["rating_score"], "trial": trial_order, "codec": [p[0] for p in parsed],
        "kbps": [p[1] for p in parsed], "measured_kbps": np.nan, "category": "all",
        "kind": cond.map(_kind_of), "plays": -1,
        "listen_ms": pd.to_numeric(df.get("rating_time", np.nan), errors="coerce"), "submitted_at": "",
    })
    fields = [c for c in df.columns if c not in WEBMUSHRA_COLUMNS + WEBMUSHRA_TAIL and c != id_col
              and str(c) not in COLUMNS]
    for c in fields:
        out[f"participant_{c}" if not str(c).startswith("participant_") else str(c)] = df[c].to_numpy()
    out = validate_ratings(out, source=source)
    out.attrs["rater_id_column"] = id_col
    return out


def _parse_codec_condition(cond: str) -> tuple[str | None, float]:
    return parse_condition_id(cond, loose=True)


def from_csv(path: str | Path, *, rater_column: str | None = None) -> pd.DataFrame:
    """Our admin CSV export, or a webMUSHRA results CSV (detected by its columns)."""
    p = Path(path)
    if not p.is_file():
        raise RatingsError(f"{p}: ratings file not found")
    try:
        df = pd.read_csv(p, keep_default_na=True)
    except Exception as exc:
        raise RatingsError(f"{p}: cannot read as CSV ({exc})") from exc
    if all(c in df.columns for c in WEBMUSHRA_COLUMNS):
        return from_webmushra(df, source=str(p), rater_column=rater_column)
    if rater_column is not None or "rater" not in df.columns:
        if rater_column is not None or any(str(c).lower() in RATER_ID_COLUMNS for c in df.columns):
            df = df.assign(rater=rater_identity(df, rater_column=rater_column, source=str(p))[0])
    return validate_ratings(df, source=str(p))


def load_ratings(source: Any, *, study_dir: str | Path | None = None, rater_column: str | None = None
                 ) -> pd.DataFrame:
    """A DataFrame, a CSV path, or a database URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""
    if isinstance(source, pd.DataFrame):
        if all(c in source.columns for c in WEBMUSHRA_COLUMNS) and "rater" not in source.columns:
            return from_webmushra(source, rater_column=rater_column)
        return validate_ratings(source)
    s = str(source)
    if "://" in s:
        return from_db(s, study_dir=study_dir)
    return from_csv(s, rater_column=rater_column)


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
