"""The schema. Changes here need a migration in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A database's datetime as the repository returns it (versions and cursors compare equal)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class RecordingRow(Base):
    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str | None] = mapped_column(String(64))
    transcript: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[list | None] = mapped_column(JSON)
    words: Mapped[list | None] = mapped_column(JSON)  # read only by the transcript's JSON
    topic: Mapped[dict | None] = mapped_column(JSON)
    waveform: Mapped[dict | None] = mapped_column(JSON)  # domain.transcript.Waveform.as_dict
    callback_url: Mapped[str | None] = mapped_column(String(2048))  # this upload's own webhook
    speakers: Mapped[int | None] = mapped_column(Integer)  # how many voices, if the upload said
    speaker_names: Mapped[dict | None] = mapped_column(JSON)  # label -> name, given by users
    title: Mapped[str | None] = mapped_column(String(200))  # given by users; searched
    speakers_heard: Mapped[list | None] = mapped_column(JSON)  # the segments' labels, in order
    # Seconds of audio a transcription under way has stored (domain Recording.transcribed_s).
    transcribed_s: Mapped[float | None] = mapped_column(Float)
    # The transcript as transcription made it ({"text", "segments", "words"}), kept the first
    # time a reader corrects it (domain/corrections.py); None while uncorrected.
    machine_transcript: Mapped[dict | None] = mapped_column(JSON)
    retention_until: Mapped[datetime] = mapped_column(UTCDateTime())
    # A legal hold (domain Hold): while set, the recording is never deleted.
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    held_by: Mapped[str | None] = mapped_column(String(200))
    # When the original upload was removed, past AUDIODAS_ORIGINAL_RETENTION_DAYS (the archive
    # copy stays).
    original_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The work queue (adapters/database/work_queue.py): which engine holds the recording and
    # until when; with no holder, a future lease_until means "not before" (retry back-off).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    stages: Mapped[list[StageRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StageRow.position"
    )
    variants: Mapped[list[VariantRow]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (
        Index("ix_recordings_created_at_id", "created_at", "id"),
        Index("ix_recordings_status_created_at", "status", "created_at"),
        # The list's other orders (repository._ORDER_KEYS), read from an index as newest first.
        Index("ix_recordings_duration_s_id", "duration_s", "id"),
        Index("ix_recordings_title_order", text("lower(coalesce(title, filename))"), "id"),
    )


class StageRow(Base):
    __tablename__ = "stages"

    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class VariantRow(Base):
    __tablename__ = "variants"

    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class ApiKeyRow(Base):
    """An API key: its secret part only as a keyed hash (services/signing.py)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """The audit trail (domain/audit.py): appended, never changed; each row's hash chains it
    to the one before."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    recording_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON: hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_recording_id_seq", "recording_id", "seq"),
        Index("ix_audit_log_action_seq", "action", "seq"),
    )


class AuditHeadRow(Base):
    """The chain's head, one row: the last entry's number and hash. Appending updates it first,
    which makes appends from every process take turns (one chain, no fork)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class WebhookDeliveryRow(Base):
    """An event for one URL, written with the status change that caused it (an outbox): no
    crash can settle a recording without its events. Kept after delivery, as its record."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recording_id: Mapped[str] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    # When it may next be sent (or, while a sender holds it, when its lease runs out).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "delivered_at", "given_up_at", "next_attempt_at"),
    )
