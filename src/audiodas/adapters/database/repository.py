"""RecordingRepository on SQLAlchemy: the only place that turns rows into domain objects."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    String,
    and_,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from audiodas.adapters.database import search, webhooks
from audiodas.adapters.database.audit import append_in
from audiodas.adapters.database.connect import reads
from audiodas.adapters.database.reserve import Reserve
from audiodas.adapters.database.tables import (
    RecordingRow,
    StageRow,
    VariantRow,
    WebhookDeliveryRow,
    as_utc,
)
from audiodas.adapters.failures import at_the_edge
from audiodas.domain import (
    STAGE_NAMES,
    Order,
    Recording,
    RecordingStatus,
    Rejected,
    Segment,
    Stage,
    StageName,
    StageStatus,
    StoredVariant,
    Transcript,
    Variant,
    VariantName,
    VersionPage,
)
from audiodas.domain.audit import AuditEntry
from audiodas.domain.corrections import summarized_again
from audiodas.domain.recording import Hold
from audiodas.domain.search import Query, SearchPage
from audiodas.domain.speakers import speakers_of
from audiodas.domain.transcript import TranscribedWindow, Waveform, Word, with_window
from audiodas.domain.webhooks import Delivery

log = logging.getLogger("audiodas.database")
T = TypeVar("T")


@at_the_edge
class SqlRecordingRepository:
    """Writes go through the ORM (a recording and its children in one unit); reads, the API's
    hot path, are Core queries turned straight into domain objects."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = reads(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reserve = Reserve.beside(engine)
        self._reserve.keep()

    def add(
        self,
        recording: Recording,
        *,
        then: Callable[[object], None] | None = None,
        audit: AuditEntry | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            session.add(_to_row(recording))
            session.flush()
            search.reindex(session.connection(), recording.id)
            if then is not None:
                then(_transaction(session))
            if audit is not None:  # last: the chain's head stays locked until the commit
                append_in(session.connection(), audit)
        self._reserve.keep()

    def get(self, recording_id: str, *, segments: bool = True) -> Recording | None:
        with self._reads.connect() as connection:
            row = connection.execute(_GET[segments], {"id": recording_id}).first()
            return _assemble(connection, [row])[0] if row else None

    def versions(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        """A page of recordings as (id, updated_at): one query (newest first, index-ordered)."""
        query = versions_query(limit=limit, cursor=cursor, status=status, order=order)
        with self._reads.connect() as connection:
            return query.page(connection.execute(query.statement, query.params).all())

    def search(
        self,
        query: Query,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
    ) -> SearchPage:
        """Recordings whose filename, summary and transcript together have every term of
        `query`, best first. The cursor is an offset: ranks move as recordings change."""
        offset = _decode_offset(cursor) if cursor else 0
        with self._reads.connect() as connection:
            hits = search.search(connection, query, limit=limit + 1, offset=offset, status=status)
        more = len(hits) > limit
        return SearchPage(hits[:limit], _encode_offset(offset + limit) if more else None)

    def version(self, recording_id: str) -> datetime | None:
        with self._reads.connect() as connection:
            return connection.execute(VERSION, {"id": recording_id}).scalar()

    def get_many(self, recording_ids: list[str]) -> list[Recording]:
        """Recordings as listed (no transcript, no segments), in no particular order."""
        with self._reads.connect() as connection:
            rows = connection.execute(_MANY, {"ids": recording_ids}).all()
            return _assemble(connection, rows)

    def words(self, recording_id: str) -> list[Word]:
        """The transcript's word times (none for a recording transcribed without them)."""
        with self._reads.connect() as connection:
            stored = connection.execute(_WORDS, {"id": recording_id}).scalar()
        return [Word(**w) for w in stored or []]

    def machine_segments(self, recording_id: str) -> list[Segment] | None:
        """The segments as transcription made them, if a reader corrected any."""
        with self._reads.connect() as connection:
            stored = connection.execute(_MACHINE, {"id": recording_id}).scalar()
        return [Segment(**s) for s in stored["segments"]] if stored else None

    def correct(
        self,
        recording_id: str,
        change: Callable[[Transcript, Transcript], Transcript],
        now: datetime,
        *,
        then: Callable[[object], None] | None = None,
        audit: AuditEntry | None = None,
    ) -> Transcript | None:
        """The transcript as `change(stored, machine's)` makes it, in one transaction with the row locked (what
        `change` raises leaves everything as it was); the machine's kept the first time. If the
        text changed and the summary was made from the old one, summarizing runs again: its
        stage pending, the recording queued, `then` as for `add`. None: no such recording."""
        with self._sessions.begin() as session:
            row = session.get(RecordingRow, recording_id, with_for_update=True)
            if row is None:
                return None
            stored = _transcript(row.transcript, row.language, row.segments, row.words)
            machine = row.machine_transcript
            if machine is not None:
                machine = _transcript(
                    machine["text"], row.language, machine["segments"], machine["words"]
                )
            corrected = change(stored, machine or stored)
            if row.machine_transcript is None:
                row.machine_transcript = {
                    "text": row.transcript, "segments": row.segments, "words": row.words
                }  # fmt: skip
            row.transcript = corrected.text
            row.segments = corrected.segments_as_dicts()
            row.speakers_heard = speakers_of(corrected.segments)
            row.words = [asdict(w) for w in corrected.words]
            row.updated_at = now
            if audit is not None:
                append_in(session.connection(), audit)
            summarize = session.get(StageRow, (recording_id, StageName.SUMMARIZE.value))
            if summarize is not None and summarized_again(
                stored, corrected, RecordingStatus(row.status), StageStatus(summarize.status)
            ):
                summarize.status, summarize.error = StageStatus.PENDING.value, None
                summarize.started_at = summarize.finished_at = None
                row.status, row.claimed_by, row.lease_until = (
                    RecordingStatus.QUEUED.value,
                    None,
                    None,
                )
                if then is not None:
                    then(_transaction(session))
            session.flush()
            search.reindex(session.connection(), recording_id)
        return corrected

    def waveform(self, recording_id: str) -> Waveform | None:
        with self._reads.connect() as connection:
            stored = connection.execute(_WAVEFORM, {"id": recording_id}).scalar()
        return Waveform.from_dict(stored) if stored else None

    def save_waveform(self, recording_id: str, waveform: Waveform) -> None:
        """Keep a waveform made after the recording was transcribed (it changes no version:
        it is what the transcription would have made)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(RecordingRow)
                .where(RecordingRow.id == recording_id)
                .values(waveform=waveform.as_dict())
            )

    def find_variant(self, recording_id: str, name: VariantName) -> StoredVariant | None:
        with self._reads.connect() as connection:
            row = connection.execute(
                _FIND_VARIANT, {"id": recording_id, "name": name.value}
            ).first()
        if row is None:
            return None
        filename, status, *fields = row
        variant = _variant(*fields) if row.path is not None else None  # no such variant yet
        return StoredVariant(filename, RecordingStatus(status), variant)

    def set_retention(
        self, recording_id: str, until: datetime, now: datetime, *, audit: AuditEntry
    ) -> bool:
        return self._set(recording_id, {"retention_until": until, "updated_at": now}, audit)

    def set_hold(
        self, recording_id: str, hold: Hold | None, now: datetime, *, audit: AuditEntry
    ) -> bool:
        """Set or release the recording's legal hold, recorded in the audit trail at once."""
        values = {
            "hold_reason": hold.reason if hold else None,
            "held_at": hold.since if hold else None,
            "held_by": hold.by if hold else None,
            "updated_at": now,
        }
        return self._set(recording_id, values, audit)

    def originals_due(self, created_before: datetime, limit: int) -> list[str]:
        archive = (
            select(_V.recording_id)
            .where(_V.recording_id == _R.id, _V.name == VariantName.ARCHIVE.value)
            .exists()
        )
        original = (
            select(_V.recording_id)
            .where(_V.recording_id == _R.id, _V.name == VariantName.ORIGINAL.value)
            .exists()
        )
        finished = [s.value for s in RecordingStatus if s.finished]
        query = (
            select(_R.id)
            .where(_R.created_at < created_before, _R.status.in_(finished))
            .where(_R.hold_reason.is_(None), archive, original)
            .order_by(_R.created_at)
            .limit(limit)
        )
        with self._reads.connect() as connection:
            return list(connection.execute(query).scalars())

    def remove_original(self, recording_id: str, now: datetime, *, audit: AuditEntry) -> str | None:
        with self._sessions.begin() as session:
            row = session.get(RecordingRow, recording_id, with_for_update=True)
            if row is None or row.hold_reason is not None:
                return None
            variant = session.get(VariantRow, (recording_id, VariantName.ORIGINAL.value))
            if variant is None:
                return None
            key = variant.path
            session.delete(variant)
            row.original_removed_at = row.updated_at = now
            append_in(session.connection(), audit)
            return key

    def _set(self, recording_id: str, values: dict, audit: AuditEntry) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(RecordingRow).where(RecordingRow.id == recording_id).values(**values)
            )
            if result.rowcount == 0:
                return False
            append_in(session.connection(), audit)
            return True

    def delete(self, recording_id: str, *, audit: AuditEntry | None = None) -> bool:
        """The recording, its children (stages, variants, webhook deliveries: a pending one is
        not sent) and its search entry, in one transaction; on a full disk (FTS5 writes to
        delete an entry) without the entry, which is never found without its recording and is
        removed by `repair_search`; with no room at all, in the room of the reserve."""
        try:
            deleted = self._delete(recording_id, unindex=True, audit=audit)
        except SQLAlchemyError as exc:
            log.warning("deleting %s with its search entry failed: %s", recording_id, exc)
            try:
                deleted = self._delete(recording_id, unindex=False, audit=audit)
            except SQLAlchemyError:
                if not self._reserve.release():
                    raise
                deleted = self._delete(recording_id, unindex=False, audit=audit)
        self._reserve.keep()
        return deleted

    def _delete(self, recording_id: str, *, unindex: bool, audit: AuditEntry | None) -> bool:
        with self._sessions.begin() as session:
            if unindex:
                search.unindex(session.connection(), recording_id)
            # Children first: not every SQLite connection enforces ON DELETE CASCADE.
            for child in (StageRow, VariantRow, WebhookDeliveryRow):
                session.execute(delete(child).where(child.recording_id == recording_id))
            result = session.execute(delete(RecordingRow).where(RecordingRow.id == recording_id))
            if result.rowcount and audit is not None:  # the receipt, with the delete or not at all
                append_in(session.connection(), audit)
            return result.rowcount > 0

    def repair_search(self) -> int:
        """Run by an engine as it starts (search.repair)."""
        with self.engine.begin() as connection:
            return search.repair(connection)

    def save_stage(
        self,
        recording_id: str,
        stage: Stage,
        *,
        variant: Variant | None = None,
        transcript: Transcript | None = None,
        topic: dict | None = None,
        summary: str | None = None,
        now: datetime,
    ) -> bool:
        """Record a stage's state and, in the same transaction, what it produced; False if the
        recording is gone (deleted meanwhile)."""
        with self._sessions.begin() as session:
            row = session.get(StageRow, (recording_id, stage.name.value))
            if row is None:
                return False
            row.status = stage.status.value
            row.started_at = stage.started_at
            row.finished_at = stage.finished_at
            row.error = stage.error
            row.attempts = stage.attempts
            recording = session.get(RecordingRow, recording_id)
            recording.updated_at = now
            if variant is not None:
                session.merge(_variant_row(recording_id, variant))
            if transcript is not None:
                recording.transcript = transcript.text
                recording.language = transcript.language
                recording.segments = transcript.segments_as_dicts()
                recording.speakers_heard = speakers_of(transcript.segments)
                recording.words = [asdict(w) for w in transcript.words]
                recording.transcribed_s = None  # the whole of it, with its speakers
                recording.topic = topic
                if transcript.waveform is not None:
                    recording.waveform = transcript.waveform.as_dict()
            if stage.name == StageName.SUMMARIZE and stage.status == StageStatus.DONE:
                recording.summary = summary
            if transcript is not None or summary is not None:
                session.flush()
                search.reindex(session.connection(), recording_id)
        return True

    def save_window(self, recording_id: str, window: TranscribedWindow, now: datetime) -> bool:
        with self._sessions.begin() as session:
            row = session.get(RecordingRow, recording_id, with_for_update=True)
            if row is None:
                return False
            stored = _transcript(row.transcript, row.language, row.segments, row.words)
            merged = with_window(stored, window)
            row.transcript, row.language = merged.text, merged.language
            row.segments = merged.segments_as_dicts()
            row.words = [asdict(w) for w in merged.words]
            row.speakers_heard = speakers_of(merged.segments)
            row.transcribed_s, row.updated_at = window.end_s, now
            session.flush()
            search.reindex(session.connection(), recording_id)
        return True

    def save_speaker_names(
        self,
        recording_id: str,
        names: dict[str, str],
        now: datetime,
        *,
        audit: AuditEntry | None = None,
    ) -> bool:
        """The names given to the recording's speaker labels (its version moves: every
        rendering of it changes; search finds them)."""
        return self._save_searched(recording_id, now, audit, speaker_names=names or None)

    def save_title(
        self,
        recording_id: str,
        title: str | None,
        now: datetime,
        *,
        audit: AuditEntry | None = None,
    ) -> bool:
        return self._save_searched(recording_id, now, audit, title=title)

    def _save_searched(
        self, recording_id: str, now: datetime, audit: AuditEntry | None, **values: object
    ) -> bool:
        """Change searched columns of a recording and its search entry, in one transaction."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(RecordingRow)
                .where(RecordingRow.id == recording_id)
                .values(**values, updated_at=now)
            ).rowcount
            if changed:
                search.reindex(connection, recording_id)
                if audit is not None:
                    append_in(connection, audit)
            return changed == 1

    def set_status(
        self,
        recording_id: str,
        status: RecordingStatus,
        now: datetime,
        *,
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        """Move the status; if this call moves it, `deliveries` (its webhook events) are queued
        in the same transaction."""
        with self._sessions.begin() as session:
            recording = session.get(RecordingRow, recording_id)
            if recording is not None and recording.status != status.value:
                recording.status = status.value
                recording.updated_at = now
                session.add_all(webhooks.to_row(d) for d in deliveries)

    def reopen(
        self, recording_id: str, now: datetime, *, then: Callable[[object], None] | None = None
    ) -> bool:
        """A failed recording back in the queue, its failed stages pending again (the done ones
        are kept); False when it is not failed (any more). `then` as for `add`."""
        with self._sessions.begin() as session:
            reopened = session.execute(
                update(RecordingRow)
                .where(
                    RecordingRow.id == recording_id,
                    RecordingRow.status == RecordingStatus.FAILED.value,
                )
                .values(
                    status=RecordingStatus.QUEUED.value,
                    updated_at=now,
                    claimed_by=None,
                    lease_until=None,
                )
            ).rowcount
            if reopened:
                session.execute(
                    update(StageRow)
                    .where(
                        StageRow.recording_id == recording_id,
                        StageRow.status == StageStatus.FAILED.value,
                    )
                    .values(status=StageStatus.PENDING.value, started_at=None, finished_at=None)
                )
                if then is not None:
                    then(_transaction(session))
            return reopened == 1

    def count_by_status(self) -> dict[RecordingStatus, int]:
        query = select(RecordingRow.status, func.count()).group_by(RecordingRow.status)
        with self._sessions() as session:
            counts = {status: n for status, n in session.execute(query)}
        return {status: counts.get(status.value, 0) for status in RecordingStatus}

    def ping(self) -> None:
        with self._reads.connect() as connection:
            connection.execute(PING)


def _transcript(
    text: str | None, language: str | None, segments: list | None, words: list | None
) -> Transcript:
    return Transcript(
        text or "",
        language,
        [Segment(**s) for s in segments or []],
        [Word(**w) for w in words or []],
    )


def _transaction(session: Session) -> object:
    """The driver's connection under the session's transaction, for work that must commit or
    roll back with it (a job deferred by another library)."""
    return session.connection().connection.driver_connection


# A cursor is flat text in base64url, parsed by a pattern without recursion or any decoder a
# client could make work hard (it once was JSON): the last row's key, "<created_at>|<id>", for
# a list newest first; "<order>|<offset>" for a list in another order; "search|<offset>" for
# a search.
_CURSOR = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d)?)\|([0-9a-f]{32})$")
_OFFSET = re.compile(r"^search\|(\d{1,9})$")
_ORDERED = re.compile(r"^(oldest|longest|shortest|title)\|(\d{1,9})$")
_MAX_CURSOR = 128


def _pack(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _unpack(cursor: str, pattern: re.Pattern[str], parse: Callable[[re.Match[str]], T]) -> T:
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        found = pattern.match(raw)
        if found is None:
            raise ValueError("not a cursor")
        return parse(found)
    except (ValueError, TypeError) as exc:  # binascii.Error and UnicodeError are ValueErrors
        raise Rejected(Rejected.BAD_CURSOR, "cursor is not one this server issued") from exc


def _encode_cursor(last: Row) -> str:
    return _pack(f"{last.created_at.isoformat()}|{last.id}")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    return _unpack(cursor, _CURSOR, lambda found: (datetime.fromisoformat(found[1]), found[2]))


def _decode_ordered(cursor: str, order: Order) -> int:
    """An offset into the list in `order`; a cursor of another order is not one for it."""
    offset, of = _unpack(cursor, _ORDERED, lambda found: (int(found[2]), found[1]))
    if of != order.value:
        raise Rejected(Rejected.BAD_CURSOR, f"this cursor pages a list in {of} order, not {order}")
    return offset


def _encode_offset(offset: int) -> str:
    return _pack(f"search|{offset}")


def _decode_offset(cursor: str) -> int:
    return _unpack(cursor, _OFFSET, lambda found: int(found[1]))


def _to_row(recording: Recording) -> RecordingRow:
    return RecordingRow(
        id=recording.id,
        filename=recording.filename,
        content_type=recording.content_type,
        size_bytes=recording.size_bytes,
        sha256=recording.sha256,
        duration_s=recording.duration_s,
        sample_rate=recording.sample_rate,
        channels=recording.channels,
        status=recording.status.value,
        domain=recording.domain,
        transcript=recording.transcript,
        language=recording.language,
        summary=recording.summary,
        segments=[asdict(s) for s in recording.segments],
        speakers_heard=speakers_of(recording.segments),
        topic=recording.topic,
        callback_url=recording.callback_url,
        speakers=recording.speakers,
        speaker_names=recording.speaker_names or None,
        title=recording.title,
        retention_until=recording.retention_until,
        hold_reason=recording.hold.reason if recording.hold else None,
        held_at=recording.hold.since if recording.hold else None,
        held_by=recording.hold.by if recording.hold else None,
        created_at=recording.created_at,
        updated_at=recording.updated_at,
        stages=[
            StageRow(
                name=stage.name.value,
                position=STAGE_NAMES.index(stage.name),
                status=stage.status.value,
                started_at=stage.started_at,
                finished_at=stage.finished_at,
                error=stage.error,
                attempts=stage.attempts,
            )
            for stage in recording.stages.values()
        ],
        variants=[_variant_row(recording.id, v) for v in recording.variants.values()],
    )


def _variant_row(recording_id: str, v: Variant) -> VariantRow:
    return VariantRow(
        recording_id=recording_id,
        name=v.name.value,
        path=v.path,
        content_type=v.content_type,
        size_bytes=v.size_bytes,
        sha256=v.sha256,
    )


# The reads, built once: building a statement costs more than running it (profiled).
_R, _S, _V = RecordingRow.__table__.c, StageRow.__table__.c, VariantRow.__table__.c
# What a listed recording carries: everything but its transcript and segments.
_LISTED = [
    c
    for c in _R
    if c.name
    not in (
        "transcript",
        "segments",
        "words",
        "waveform",
        "machine_transcript",
        "claimed_by",
        "lease_until",
    )
]
_GET = {
    segments: select(*_LISTED, _R.transcript, *([_R.segments] if segments else [])).where(
        _R.id == bindparam("id")
    )
    for segments in (False, True)
}
# A stage's and a variant's fields in `_stage`'s and `_variant`'s order, for every read of them.
_STAGE_FIELDS = (_S.name, _S.status, _S.started_at, _S.finished_at, _S.error, _S.attempts)
_VARIANT_FIELDS = (_V.name, _V.path, _V.content_type, _V.size_bytes, _V.sha256)
_STAGES = (
    select(_S.recording_id, *_STAGE_FIELDS)
    .where(_S.recording_id.in_(bindparam("ids", expanding=True)))
    .order_by(_S.recording_id, _S.position)
)
_VARIANTS = select(_V.recording_id, *_VARIANT_FIELDS).where(
    _V.recording_id.in_(bindparam("ids", expanding=True))
)
# PostgreSQL's reads of whole recordings (`assembled` reads their rows): each row with its
# stages and variants as JSON arrays, one statement for any number of ids: one round trip (a
# server process to be scheduled once, not three times, while the engine keeps the cores busy)
# and one snapshot of the three tables. With psycopg alone, a quarter to a third of the HTTP
# process's CPU of three statements on SQLAlchemy's asyncio layer (20 recordings 1.57 -> 0.55
# ms, one 0.58 -> 0.15 ms).


def _whole(columns: Sequence[ColumnElement]) -> Select:
    stages = select(
        func.json_agg(aggregate_order_by(func.json_build_array(*_STAGE_FIELDS), _S.position))
    ).where(_S.recording_id == _R.id)
    variants = select(func.json_agg(func.json_build_array(*_VARIANT_FIELDS))).where(
        _V.recording_id == _R.id
    )
    return select(
        *columns,
        stages.scalar_subquery().label("stages"),
        variants.scalar_subquery().label("variants"),
    ).where(_R.id == any_(bindparam("ids", type_=ARRAY(String))))


WHOLE = {segments: _whole(_GET[segments].selected_columns) for segments in (False, True)}
WHOLE_LISTED = _whole(_LISTED)
_FIND_VARIANT = (
    select(_R.filename, _R.status, *_VARIANT_FIELDS)
    .select_from(
        RecordingRow.__table__.outerjoin(
            VariantRow.__table__,
            and_(_V.recording_id == _R.id, _V.name == bindparam("name")),
        )
    )
    .where(_R.id == bindparam("id"))
)


VERSION = select(_R.updated_at).where(_R.id == bindparam("id"))
PING = text("SELECT 1")
_WAVEFORM = select(_R.waveform).where(_R.id == bindparam("id"))
_WORDS = select(_R.words).where(_R.id == bindparam("id"))
_MACHINE = select(_R.machine_transcript).where(_R.id == bindparam("id"))
_MANY = select(*_LISTED).where(_R.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class PageQuery:
    """A page of versions to read: the statement, its parameters, and how its rows become a
    page. Newest first (the list's default) pages by the last row's key, on an index; the
    other orders by offset (a sort of at most the whole table: milliseconds at 10,000)."""

    statement: Select
    params: dict
    limit: int
    order: Order
    offset: int = 0

    def page(self, rows: Sequence[Any]) -> VersionPage:
        """Rows with `id`, `created_at` and `updated_at`, one more than `limit` if more follow."""
        more = len(rows) > self.limit
        if self.order is Order.NEWEST:
            next_cursor = _encode_cursor(rows[self.limit - 1]) if more else None
        else:
            next_cursor = _pack(f"{self.order}|{self.offset + self.limit}") if more else None
        return VersionPage([(row.id, row.updated_at) for row in rows[: self.limit]], next_cursor)


def versions_query(
    *, limit: int, cursor: str | None, status: RecordingStatus | None, order: Order = Order.NEWEST
) -> PageQuery:
    params: dict = {"limit": limit + 1}
    if status is not None:
        params["status"] = status.value
    if order is Order.NEWEST:
        if cursor:
            params["created_at"], params["last_id"] = _decode_cursor(cursor)
        return PageQuery(_page(status is not None, bool(cursor)), params, limit, order)
    offset = _decode_ordered(cursor, order) if cursor else 0
    params["offset"] = offset
    return PageQuery(_ordered(order, status is not None), params, limit, order, offset)


_ORDER_KEYS = {
    Order.OLDEST: lambda: (_R.created_at.asc(), _R.id.asc()),
    Order.LONGEST: lambda: (_R.duration_s.desc(), _R.id.desc()),
    Order.SHORTEST: lambda: (_R.duration_s.asc(), _R.id.asc()),
    Order.TITLE: lambda: (func.lower(func.coalesce(_R.title, _R.filename)).asc(), _R.id.asc()),
}


@cache
def _ordered(order: Order, by_status: bool) -> Select:
    query = select(_R.id, _R.created_at, _R.updated_at).order_by(*_ORDER_KEYS[order]())
    if by_status:
        query = query.where(_R.status == bindparam("status"))
    return query.limit(bindparam("limit")).offset(bindparam("offset"))


@cache
def _page(by_status: bool, after_cursor: bool) -> Select:
    query = select(_R.id, _R.created_at, _R.updated_at).order_by(_R.created_at.desc(), _R.id.desc())
    if by_status:
        query = query.where(_R.status == bindparam("status"))
    if after_cursor:
        query = query.where(
            or_(
                _R.created_at < bindparam("created_at"),
                and_(_R.created_at == bindparam("created_at"), _R.id < bindparam("last_id")),
            )
        )
    return query.limit(bindparam("limit"))


def _assemble(connection: Connection, rows: Sequence[Row]) -> list[Recording]:
    """Recordings from their rows, with their stages and variants (one query each)."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    stages: dict[str, dict[StageName, Stage]] = {i: {} for i in ids}
    for recording_id, *fields in connection.execute(_STAGES, {"ids": ids}):
        stage = _stage(*fields)
        stages[recording_id][stage.name] = stage
    variants: dict[str, dict[VariantName, Variant]] = {i: {} for i in ids}
    for recording_id, *fields in connection.execute(_VARIANTS, {"ids": ids}):
        variant = _variant(*fields)
        variants[recording_id][variant.name] = variant
    return [_recording(row, stages[row.id], variants[row.id]) for row in rows]


def assembled(rows: Sequence[Any]) -> list[Recording]:
    """Recordings from rows of a `WHOLE` statement, as psycopg types them: stages and variants
    as JSON arrays, in `_STAGE_FIELDS` and `_VARIANT_FIELDS` order (times as ISO strings)."""
    recordings = []
    for row in rows:
        stages = (
            _stage(n, s, _json_time(started), _json_time(finished), e, a)
            for n, s, started, finished, e, a in row.stages or []
        )
        variants = (_variant(*v) for v in row.variants or [])
        recordings.append(
            _recording(row, {s.name: s for s in stages}, {v.name: v for v in variants})
        )
    return recordings


def _recording(
    row: Any, stages: dict[StageName, Stage], variants: dict[VariantName, Variant]
) -> Recording:
    return Recording(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        duration_s=row.duration_s,
        sample_rate=row.sample_rate,
        channels=row.channels,
        status=RecordingStatus(row.status),
        domain=row.domain,
        transcript=getattr(row, "transcript", None),
        language=row.language,
        summary=row.summary,
        segments=[Segment(**s) for s in getattr(row, "segments", None) or []],
        topic=row.topic,
        callback_url=row.callback_url,
        speakers=row.speakers,
        speaker_names=row.speaker_names or {},
        title=row.title,
        speakers_heard=row.speakers_heard or [],
        transcribed_s=row.transcribed_s,
        hold=Hold(row.hold_reason, as_utc(row.held_at), row.held_by) if row.hold_reason else None,
        original_removed_at=as_utc(row.original_removed_at) if row.original_removed_at else None,
        # In UTC again: psycopg's rows (`assembled`) carry the session's time zone.
        retention_until=as_utc(row.retention_until),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        stages=stages,
        variants=variants,
    )


def _stage(
    name: str,
    status: str,
    started_at: datetime | None,
    finished_at: datetime | None,
    error: str | None,
    attempts: int,
) -> Stage:
    return Stage(StageName(name), StageStatus(status), started_at, finished_at, error, attempts)


def _json_time(value: str | None) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(value))


def _variant(name: str, path: str, content_type: str, size_bytes: int, sha256: str) -> Variant:
    return Variant(VariantName(name), path, content_type, size_bytes, sha256)
