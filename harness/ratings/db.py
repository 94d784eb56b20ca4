"""Engines and sessions: SQLite (WAL, busy_timeout 5000 ms, BEGIN IMMEDIATE for writers) or PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from harness.errors import HarnessError
from harness.ratings import default_db_url  # noqa: F401 - re-exported
from harness.ratings.models import SCHEMA_VERSION, Base, Meta

BUSY_TIMEOUT_MS = 5000


class DatabaseError(HarnessError):
    """The ratings database cannot be opened or belongs to another study/schema."""


@dataclasses.dataclass(frozen=True)
class Database:
    """A writer engine (SQLite: every transaction is ``BEGIN IMMEDIATE`` so a read never has to be upgraded to a
    write mid-transaction, which WAL answers with an immediate SQLITE_BUSY) and a reader engine."""

    url: str
    writer: Engine
    reader: Engine
    Write: sessionmaker
    Read: sessionmaker
    lock_path: Path | None = None  # SQLite: writers queue on this file lock instead of SQLite's busy sleeps
    _thread_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    _lock_file: list = dataclasses.field(default_factory=list)  # [file object], opened once per process

    @contextlib.contextmanager
    def write_lock(self):
        """Serialise writers (SQLite only): a thread lock inside the process plus ``flock`` across gunicorn
        workers. A blocked writer wakes the moment the lock is free, where SQLite's own busy handler sleeps in
        steps of up to 100 ms; busy_timeout still guards writers that do not take this lock."""
        if self.lock_path is None:
            yield
            return
        with self._thread_lock:
            try:
                import fcntl
            except ImportError:  # not POSIX: the thread lock and busy_timeout remain
                yield
                return
            if not self._lock_file:
                self._lock_file.append(open(self.lock_path, "a"))  # noqa: SIM115 - kept for the process' life
            fh = self._lock_file[0]
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def write(self):
        """A write transaction on a Core connection (committed on success), taken under :meth:`write_lock`."""
        with self.write_lock(), self.writer.begin() as conn:
            yield conn

    def dispose(self) -> None:
        for fh in self._lock_file:
            fh.close()
        self._lock_file.clear()
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                           pool_size=8, max_overflow=16)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's own handling is broken)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across application crashes; WAL keeps it consistent
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    if immediate:
        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    # the reader runs in autocommit: each SELECT sees the latest committed state, no BEGIN/ROLLBACK round trips

    return engine


def open_database(url: str) -> Database:
    try:
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                raise DatabaseError("an in-memory SQLite database cannot be shared between requests; give a file")
            writer = _sqlite_engine(url, immediate=True)
            reader = _sqlite_engine(url, immediate=False)
        else:
            # no pool_pre_ping (a round trip per checkout); after a server restart a request fails once and the
            # page retries it (5xx answers are retried, nothing is half-saved)
            writer = reader = create_engine(url, pool_size=8, max_overflow=16, pool_recycle=3600)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise DatabaseError(f"cannot open database {url!r}: {exc}") from exc
    lock = None
    if url.startswith("sqlite") and writer.url.database:
        lock = Path(writer.url.database).resolve().with_name(Path(writer.url.database).name + ".lock")
    return Database(url=url, writer=writer, reader=reader, lock_path=lock,
                    Write=sessionmaker(writer, expire_on_commit=False),
                    Read=sessionmaker(reader, expire_on_commit=False))


def create_schema(db: Database, *, study_hash: str) -> None:
    """Create tables (idempotent), migrate an older schema additively, and check the database belongs to this
    study. Run once before web workers start (``serve`` does it before gunicorn forks).

    Migration 1 -> 2 only adds: the ``stimulus_fetches`` and ``rate_limits`` tables and the nullable
    ``trials.flags`` column. Existing ratings are never rewritten or dropped."""
    try:
        Base.metadata.create_all(db.writer)  # creates missing tables only
        with db.Write.begin() as s:
            meta = {m.key: m.value for m in s.scalars(select(Meta))}
            if not meta:
                s.add_all([Meta(key="schema_version", value=str(SCHEMA_VERSION)),
                           Meta(key="study_hash", value=study_hash)])
                return
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot create the schema in {db.url!r}: {exc}") from exc
    if meta.get("study_hash") != study_hash:
        raise DatabaseError(
            f"{db.url}: holds ratings of another study version (hash {meta.get('study_hash')}, this study is "
            f"{study_hash}). The stimuli changed since ratings were collected; serve with a fresh --db to keep "
            "both, or move the old ratings file away.")
    version = meta.get("schema_version")
    if version == "1":
        _migrate_1_to_2(db)
    elif version != str(SCHEMA_VERSION):
        raise DatabaseError(f"{db.url}: ratings schema version {version} is newer than this harness supports "
                            f"({SCHEMA_VERSION}); upgrade mushra-harness, or serve with a new --db")


def _migrate_1_to_2(db: Database) -> None:
    from sqlalchemy import inspect, text, update

    try:
        with db.write_lock(), db.Write.begin() as s:
            cols = {c["name"] for c in inspect(s.connection()).get_columns("trials")}
            if "flags" not in cols:
                s.execute(text("ALTER TABLE trials ADD COLUMN flags VARCHAR(256)"))
            s.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    except SQLAlchemyError as exc:
        raise DatabaseError(f"{db.url}: could not add the schema-2 columns ({exc}); the ratings are untouched. "
                            "Check the database user may ALTER TABLE, or serve with a new --db") from exc
