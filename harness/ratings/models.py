"""Database models (SQLAlchemy 2 typed declarative): sessions, trials, ratings, headphone-check answers.

Times are naive UTC. A trial's issued stimuli are kept server-side as ``[[opaque_id, condition], ...]`` in the
order shown to the rater; only the opaque ids ever reach the browser.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from harness.vocabulary import SessionState

SCHEMA_VERSION = 2  # 2: trials.flags, stimulus_fetches, rate_limits (1 is migrated additively)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Word(TypeDecorator):
    """A vocabulary word (:class:`~harness.vocabulary.TrialKind`, :class:`~harness.vocabulary.SessionState`)
    stored as its plain string value: some drivers (psycopg) would otherwise write an enum's *name*."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the database (schema version, study hash) checked when the app starts."""

    __tablename__ = "mushra_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # hash of the token, safe to export
    participant_id: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    platform: Mapped[str] = mapped_column(String(16), default="direct")  # prolific | mturk | direct
    crowd: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # STUDY_ID, SESSION_ID, assignmentId...
    device: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    state: Mapped[str] = mapped_column(Word, default=SessionState.ACTIVE.value)  # SessionState
    screened_out: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)  # set by the admin
    assigned_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    trials: Mapped[list["Trial"]] = relationship(back_populates="session", order_by="Trial.order_index")


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("session_id", "order_index", name="uq_trial_order"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(Word)  # TrialKind
    item: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    order_index: Mapped[int] = mapped_column(Integer)
    stimuli: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[opaque, condition-or-answer], ...]
    reference_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # opaque id of the open reference
    issued_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # listening-evidence flags set by the server at submission (comma-separated, "" = none), see steps.py
    flags: Mapped[str | None] = mapped_column(String(256), nullable=True)
    session: Mapped[Session] = relationship(back_populates="trials")
    ratings: Mapped[list["Rating"]] = relationship(back_populates="trial")


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("trial_id", "condition", name="uq_rating_trial_condition"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    condition: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    plays: Mapped[int] = mapped_column(Integer, default=0)
    listen_ms: Mapped[float] = mapped_column(Float, default=0.0)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    trial: Mapped[Trial] = relationship(back_populates="ratings")


class HeadphoneAnswer(Base):
    """One of the six Woods et al. (2017) antiphase-test trials: which interval (1-3) held the quiet tone."""

    __tablename__ = "headphone_answers"
    __table_args__ = (UniqueConstraint("trial_id", "test_index", name="uq_headphone_trial_test"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    test_index: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    answer: Mapped[int] = mapped_column(Integer)


class StimulusFetch(Base):
    """When a stimulus (or the open reference) of a trial was first downloaded: the server's evidence that the
    audio reached the rater before the trial was submitted."""

    __tablename__ = "stimulus_fetches"
    __table_args__ = (UniqueConstraint("trial_id", "stimulus", name="uq_fetch_trial_stimulus"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    stimulus: Mapped[str] = mapped_column(String(32))  # opaque id
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RateLimit(Base):
    """Fixed-window counters of Flask-Limiter (see :mod:`.limiter`), shared by every worker and host."""

    __tablename__ = "rate_limits"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # UNIX time (s)
