"""In-memory twins of the ports the application owns, shipped with the package (as procrastinate
ships `InMemoryConnector` and httpx `MockTransport`), for fast tests of the layers above them:

    runtime = in_memory_runtime(Settings(data_dir=tmp_path))
    app = create_app(runtime=runtime, inference=FakeInference("Hello."))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client: ...

`FakeClock` is the Clock port's: time moves when a test says so. `InMemoryRecordingRepository`
and `InMemoryWebhookOutbox` stand for the database's (not its search: FTS5 and tsvector ranking
are SQL's); tests/integration/test_port_contracts.py holds each twin to the same contract as
its real adapters. `in_memory_runtime` keeps a real database and file store (cheap, and what
the API promises depends on them). End-to-end tests use the real adapters.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audiodas.adapters.listeners import Listeners
from audiodas.config import Settings
from audiodas.domain import (
    Order,
    RecordingStatus,
    Segment,
    Stage,
    StageName,
    StageStatus,
    Transcript,
    VariantName,
    VersionPage,
)
from audiodas.domain.audit import (
    GENESIS,
    Action,
    AuditEntry,
    StoredEntry,
    canonical,
    entry_hash,
)
from audiodas.domain.corrections import summarized_again
from audiodas.domain.recording import Hold, Recording
from audiodas.domain.repository import StoredVariant
from audiodas.domain.speakers import speakers_of
from audiodas.domain.transcript import TranscribedWindow, Waveform, Word, with_window
from audiodas.domain.webhooks import Delivery
from audiodas.inference.errors import InferenceBusy
from audiodas.runtime import Runtime, open_runtime
from audiodas.services.ports import Handler
from audiodas.slots import Slots


class InMemoryWorkQueue:
    """Queued ids in a list; `serve` hands them out in order. `enqueued` is what a test reads."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self._ready = asyncio.Event()
        self._stopping = False

    def enqueue(self, recording_id: str, transaction: object) -> None:
        self.enqueued.append(recording_id)
        self._ready.set()

    async def serve(self, handle: Handler, *, worker: str, concurrency: int) -> None:
        while not self._stopping:
            if not self.enqueued:
                self._ready.clear()
                await self._ready.wait()
                continue
            await handle(self.enqueued.pop(0))

    async def stop(self, grace: float) -> None:
        self._stopping = True
        self._ready.set()


class InMemoryEventBus:
    """Events delivered to this process's listeners, on its event loop. `published` keeps all."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self._listeners = Listeners()
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, event: dict) -> None:
        self.published.append(event)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._listeners.deliver, event)

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._loop = None


class FakeInference:
    """The Inference port's twin (and the API's InferenceClient's): answers every transcription
    with `text` (one segment over the audio, one window), or with `windows` in turn, handing
    each segment to `on_segment` and each window to `on_window` (`done`'s are skipped, as a
    resumed transcription does); then raises `failure`, if given (an inference error the
    client would raise), after `fail_after` windows if given. Its summary is
    the text's first `SUMMARY_LIMIT` characters. `calls` records the paths it was given,
    `transcribed` each window it transcribed (by start)."""

    SUMMARY_LIMIT = 50

    def __init__(
        self,
        text: str = "",
        language: str = "en",
        failure: Exception | None = None,
        windows: list[TranscribedWindow] | None = None,
        fail_after: int | None = None,
    ) -> None:
        self.text, self.language, self.failure = text, language, failure
        self.windows, self.fail_after = windows, fail_after
        self.calls: list[Path] = []
        self.transcribed: list[float] = []
        self.slots = Slots("ai", 2)
        self.live_sessions = 2  # live sessions it takes at once (InferenceClient.live)
        self.live_failures: list[Exception] = []  # each new live decoder's first decodings raise
        self.decoders: list[FakeLiveDecoder] = []

    async def live(self) -> FakeLiveDecoder:
        """A live session's decoder; InferenceBusy once `live_sessions` are open."""
        if sum(not d.closed for d in self.decoders) >= self.live_sessions:
            raise InferenceBusy(f"{self.live_sessions} live sessions are running")
        self.decoders.append(FakeLiveDecoder(self.text, self.live_failures))
        return self.decoders[-1]

    async def summarize(self, text: str, *, timeout: float) -> str | None:
        return text[: self.SUMMARY_LIMIT] or None

    async def transcribe(
        self, path: Path, on_segment=None, done=None, on_window=None, **options: object
    ) -> Transcript:  # type: ignore[no-untyped-def]
        self.calls.append(path)
        single = [Segment(0.0, 1.0, self.text)] if self.text else []
        windows = self.windows or [TranscribedWindow(0.0, 1.0, self.language, single)]
        for count, window in enumerate(w for w in windows if not done or w.end_s > done.end_s):
            if self.failure is not None and count == self.fail_after:
                raise self.failure
            self.transcribed.append(window.start_s)
            for segment in window.segments if on_segment else ():
                await on_segment(segment)
            if on_window is not None:
                await on_window(window)
        if self.failure is not None and self.fail_after is None:
            raise self.failure
        segments = [s for w in windows for s in w.segments]
        return Transcript.from_parts(segments, self.language)


class FakeLiveDecoder:
    """The LiveDecoder port's twin: a stretch with any sound in it is heard as `text` (one
    segment over the whole stretch), a silent one (all zeros) as nothing. `stretches` records
    each stretch's length in seconds. `failures`: raised in turn by the first decodings (a
    models' process dying, the engine gone)."""

    def __init__(self, text: str, failures: list[Exception] | None = None) -> None:
        self.text = text
        self.failures = list(failures or [])
        self.stretches: list[float] = []
        self.closed = False

    async def decode(self, path: Path, *, timeout: float, **options: object) -> list[Segment]:
        if self.failures:
            raise self.failures.pop(0)
        data = path.read_bytes()
        seconds = round(len(data) / 32_000, 3)
        self.stretches.append(seconds)
        return [Segment(0.0, seconds, self.text)] if self.text and any(data) else []

    async def close(self) -> None:
        self.closed = True


class FakeEncoder:
    """The Encoder port's twin: writes the variant's name and the source's bytes to `target`
    (no FFmpeg), or raises `failure` if given."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.encoded: list[str] = []

    async def encode(self, variant, source: Path, target: Path, *, channels: int, timeout: float):  # type: ignore[no-untyped-def]
        if self.failure is not None:
            raise self.failure
        self.encoded.append(str(variant))
        data = str(variant).encode() + source.read_bytes()
        target.write_bytes(data)
        return hashlib.sha256(data).hexdigest(), len(data)


class FakeClock:
    """The Clock port's twin: time moves only when a test says so (`advance`) or when something
    sleeps on it (at once; `slept` records how long each asked)."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)  # others still get their turn, as after a real wait


_ORDERS = {
    Order.OLDEST: (lambda r: (r.created_at, r.id), False),
    Order.LONGEST: (lambda r: (r.duration_s, r.id), True),
    Order.SHORTEST: (lambda r: (r.duration_s, r.id), False),
    Order.TITLE: (lambda r: ((r.title or r.filename).lower(), r.id), False),
}


class InMemoryAuditLog:
    """The AuditLog port's twin: the same chain (domain/audit.py), in a list."""

    def __init__(self) -> None:
        self.entries: list[StoredEntry] = []

    def append(self, entry: AuditEntry) -> AuditEntry:
        seq = len(self.entries) + 1
        previous = self.entries[-1].hash if self.entries else GENESIS
        text = canonical(entry.detail)
        at = entry.at.astimezone(UTC)
        digest = entry_hash(previous, seq, at, entry.actor, str(entry.action),
                            entry.recording_id, text)  # fmt: skip
        self.entries.append(StoredEntry(seq, at, entry.actor, str(entry.action),
                                        entry.recording_id, text, previous, digest))  # fmt: skip
        return replace(entry, seq=seq, prev_hash=previous, hash=digest)

    def page(self, *, limit: int, before=None, recording_id=None, action=None) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
        found = [
            AuditEntry(e.at, e.actor, Action(e.action), e.recording_id, json.loads(e.detail_text),
                       e.seq, e.prev_hash, e.hash)
            for e in reversed(self.entries)
            if (before is None or e.seq < before)
            and (recording_id is None or e.recording_id == recording_id)
            and (action is None or e.action == str(action))
        ]  # fmt: skip
        return found[:limit]

    def stored(self, *, after: int = 0, limit: int = 1000) -> list[StoredEntry]:
        return self.entries[after : after + limit]

    def head(self) -> tuple[int, str]:
        return len(self.entries), self.entries[-1].hash if self.entries else GENESIS


class InMemoryRecordingRepository:
    """The RecordingRepository port's twin: each recording kept as a copy in a dict (a read
    never shares an object with the store). Webhook deliveries that `set_status` queues go to
    `outbox`. `then(transaction)` gets None: an in-memory queue has no transaction to join.
    Search is SQL's own (FTS5 and tsvector ranking): the twin does not search."""

    def __init__(
        self, outbox: InMemoryWebhookOutbox | None = None, audit: InMemoryAuditLog | None = None
    ) -> None:
        self.outbox = outbox or InMemoryWebhookOutbox()
        self.audit = audit or InMemoryAuditLog()
        self._rows: dict[str, Recording] = {}
        self._words: dict[str, list[Word]] = {}
        self._waveforms: dict[str, Waveform] = {}
        self._machine: dict[str, Transcript] = {}  # the stored transcript before a correction

    def add(self, recording: Recording, *, then=None, audit=None) -> None:  # type: ignore[no-untyped-def]
        if recording.id in self._rows:
            raise ValueError(f"recording {recording.id} exists")
        self._rows[recording.id] = row = copy.deepcopy(recording)
        row.speakers_heard = speakers_of(row.segments)
        if audit is not None:
            self.audit.append(audit)
        if then is not None:
            then(None)

    def get(self, recording_id: str, *, segments: bool = True) -> Recording | None:
        row = self._rows.get(recording_id)
        if row is None:
            return None
        found = copy.deepcopy(row)
        if not segments:
            found.segments = []
        return found

    def versions(
        self, *, limit: int, cursor: str | None = None, status=None, order=Order.NEWEST
    ) -> VersionPage:  # type: ignore[no-untyped-def]
        rows = sorted(self._rows.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        if status is not None:
            rows = [r for r in rows if r.status == status]
        if order != Order.NEWEST:  # by offset, as the database pages these
            key, backwards = _ORDERS[order]
            rows = sorted(rows, key=key, reverse=backwards)
            offset = int(cursor.split("|")[1]) if cursor else 0
            page = rows[offset : offset + limit]
            more = len(rows) > offset + limit
            return VersionPage(
                [(r.id, r.updated_at) for r in page], f"{order}|{offset + limit}" if more else None
            )
        if cursor:
            after = cursor.split("|", 1)
            rows = [r for r in rows if (r.created_at.isoformat(), r.id) < (after[0], after[1])]
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = f"{page[-1].created_at.isoformat()}|{page[-1].id}" if more else None
        return VersionPage([(r.id, r.updated_at) for r in page], next_cursor)

    def search(self, query, *, limit: int, cursor=None, status=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError("search is SQL's (FTS5, tsvector): test it on a database")

    def version(self, recording_id: str) -> datetime | None:
        row = self._rows.get(recording_id)
        return row.updated_at if row else None

    def get_many(self, recording_ids: list[str]) -> list[Recording]:
        found = [self.get(i, segments=False) for i in recording_ids if i in self._rows]
        for recording in found:
            recording.transcript = None  # type: ignore[union-attr]
        return found  # type: ignore[return-value]

    def find_variant(self, recording_id: str, name: VariantName) -> StoredVariant | None:
        row = self._rows.get(recording_id)
        if row is None:
            return None
        return StoredVariant(row.filename, row.status, copy.deepcopy(row.variants.get(name)))

    def waveform(self, recording_id: str) -> Waveform | None:
        return self._waveforms.get(recording_id)

    def words(self, recording_id: str) -> list[Word]:
        return list(self._words.get(recording_id, []))

    def save_waveform(self, recording_id: str, waveform: Waveform) -> None:
        if recording_id in self._rows:
            self._waveforms[recording_id] = waveform

    def machine_segments(self, recording_id: str) -> list[Segment] | None:
        found = self._machine.get(recording_id)
        return copy.deepcopy(found.segments) if found else None

    def save_window(self, recording_id: str, window: TranscribedWindow, now: datetime) -> bool:
        row = self._rows.get(recording_id)
        if row is None:
            return False
        stored = Transcript(
            row.transcript or "", row.language, row.segments, self._words.get(recording_id, [])
        )
        merged = with_window(stored, window)
        row.transcript, row.language = merged.text, merged.language
        row.segments, self._words[recording_id] = merged.segments, merged.words
        row.speakers_heard = speakers_of(merged.segments)
        row.transcribed_s, row.updated_at = window.end_s, now
        return True

    def correct(self, recording_id: str, change, now: datetime, *, then=None, audit=None):  # type: ignore[no-untyped-def]
        row = self._rows.get(recording_id)
        if row is None:
            return None
        stored = Transcript(
            row.transcript or "", row.language, copy.deepcopy(row.segments),
            list(self._words.get(recording_id, [])),
        )  # fmt: skip
        corrected = change(stored, self._machine.get(recording_id, stored))
        self._machine.setdefault(recording_id, stored)
        row.transcript, row.segments = corrected.text, copy.deepcopy(corrected.segments)
        row.speakers_heard = speakers_of(corrected.segments)
        self._words[recording_id] = list(corrected.words)
        row.updated_at = now
        if audit is not None:
            self.audit.append(audit)
        summarize = row.stages.get(StageName.SUMMARIZE)
        if summarize is not None and summarized_again(
            stored, corrected, row.status, summarize.status
        ):
            summarize.status, summarize.error = StageStatus.PENDING, None
            summarize.started_at = summarize.finished_at = None
            row.status = RecordingStatus.QUEUED
            if then is not None:
                then(None)
        return corrected

    def save_speaker_names(
        self, recording_id: str, names: dict[str, str], now: datetime, *, audit=None
    ) -> bool:  # type: ignore[no-untyped-def]
        row = self._rows.get(recording_id)
        if row is None:
            return False
        row.speaker_names, row.updated_at = dict(names), now
        if audit is not None:
            self.audit.append(audit)
        return True

    def save_title(
        self, recording_id: str, title: str | None, now: datetime, *, audit=None
    ) -> bool:  # type: ignore[no-untyped-def]
        row = self._rows.get(recording_id)
        if row is None:
            return False
        row.title, row.updated_at = title, now
        if audit is not None:
            self.audit.append(audit)
        return True

    def delete(self, recording_id: str, *, audit: AuditEntry | None = None) -> bool:
        self._words.pop(recording_id, None)
        self._machine.pop(recording_id, None)
        self._waveforms.pop(recording_id, None)
        self.outbox.forget(recording_id)
        deleted = self._rows.pop(recording_id, None) is not None
        if deleted and audit is not None:
            self.audit.append(audit)
        return deleted

    def originals_due(self, created_before: datetime, limit: int) -> list[str]:
        due = [
            r for r in self._rows.values()
            if r.created_at < created_before and r.status.finished and r.hold is None
            and {VariantName.ARCHIVE, VariantName.ORIGINAL} <= set(r.variants)
        ]  # fmt: skip
        return [r.id for r in sorted(due, key=lambda r: r.created_at)][:limit]

    def remove_original(self, recording_id: str, now: datetime, *, audit: AuditEntry) -> str | None:
        row = self._rows.get(recording_id)
        if row is None or row.hold is not None or VariantName.ORIGINAL not in row.variants:
            return None
        key = row.variants.pop(VariantName.ORIGINAL).path
        row.original_removed_at = row.updated_at = now
        self.audit.append(audit)
        return key

    def set_retention(
        self, recording_id: str, until: datetime, now: datetime, *, audit: AuditEntry
    ) -> bool:
        return self._set(recording_id, now, audit, retention_until=until)

    def set_hold(
        self, recording_id: str, hold: Hold | None, now: datetime, *, audit: AuditEntry
    ) -> bool:
        return self._set(recording_id, now, audit, hold=hold)

    def _set(self, recording_id: str, now: datetime, audit: AuditEntry, **fields: object) -> bool:
        """The SQL repository's `_set`: the fields changed and the entry appended, or neither."""
        row = self._rows.get(recording_id)
        if row is None:
            return False
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = now
        self.audit.append(audit)
        return True

    def repair_search(self) -> int:
        return 0  # no search entries to leave behind

    def save_stage(  # type: ignore[no-untyped-def]
        self, recording_id: str, stage: Stage, *, variant=None, transcript=None, topic=None,
        summary=None, now: datetime,
    ) -> bool:  # fmt: skip
        row = self._rows.get(recording_id)
        if row is None or stage.name not in row.stages:
            return False
        row.stages[stage.name] = copy.deepcopy(stage)
        row.updated_at = now
        if variant is not None:
            row.variants[variant.name] = copy.deepcopy(variant)
        if transcript is not None:
            row.transcript, row.language = transcript.text, transcript.language
            row.segments, row.topic = copy.deepcopy(transcript.segments), topic
            row.speakers_heard = speakers_of(transcript.segments)
            row.transcribed_s = None
            self._words[recording_id] = list(transcript.words)
            if transcript.waveform is not None:
                self._waveforms[recording_id] = transcript.waveform
        if stage.name == StageName.SUMMARIZE and stage.status == StageStatus.DONE:
            row.summary = summary
        return True

    def set_status(self, recording_id: str, status, now: datetime, *, deliveries=()) -> None:  # type: ignore[no-untyped-def]
        row = self._rows.get(recording_id)
        if row is not None and row.status != status:
            row.status, row.updated_at = status, now
            for delivery in deliveries:
                self.outbox.add(delivery)

    def reopen(self, recording_id: str, now: datetime, *, then=None) -> bool:  # type: ignore[no-untyped-def]
        row = self._rows.get(recording_id)
        if row is None or row.status != RecordingStatus.FAILED:
            return False
        row.status, row.updated_at = RecordingStatus.QUEUED, now
        for stage in row.stages.values():
            if stage.status == StageStatus.FAILED:
                stage.status, stage.started_at, stage.finished_at = StageStatus.PENDING, None, None
        if then is not None:
            then(None)
        return True

    def count_by_status(self) -> dict[RecordingStatus, int]:
        counts = {status: 0 for status in RecordingStatus}
        for row in self._rows.values():
            counts[row.status] += 1
        return counts

    def ping(self) -> None:
        pass


class InMemoryWebhookOutbox:
    """The WebhookOutbox port's twin, on `clock` (the system's unless given)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self._deliveries: dict[str, Delivery] = {}

    def _now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    def add(self, delivery: Delivery) -> None:
        self._deliveries[delivery.id] = replace(
            delivery, next_attempt_at=delivery.next_attempt_at or delivery.created_at
        )

    def forget(self, recording_id: str) -> None:
        for key in [k for k, d in self._deliveries.items() if d.recording_id == recording_id]:
            del self._deliveries[key]

    def claim(self, lease_s: float) -> Delivery | None:
        now = self._now()
        due = [
            d for d in self._deliveries.values()
            if d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now
        ]  # fmt: skip
        if not due:
            return None
        oldest = min(due, key=lambda d: d.next_attempt_at)  # type: ignore[arg-type,return-value]
        claimed = replace(
            oldest,
            next_attempt_at=now + timedelta(seconds=lease_s),
            attempts=oldest.attempts + 1,
        )
        self._deliveries[claimed.id] = claimed
        return claimed

    def delivered(self, delivery_id: str) -> None:
        self._set(delivery_id, delivered_at=self._now(), last_error=None)

    def retry(self, delivery_id: str, error: str, at: datetime) -> None:
        self._set(delivery_id, next_attempt_at=at, last_error=error)

    def give_up(self, delivery_id: str, error: str) -> None:
        self._set(delivery_id, given_up_at=self._now(), last_error=error)

    def of_recording(self, recording_id: str) -> list[Delivery]:
        mine = [d for d in self._deliveries.values() if d.recording_id == recording_id]
        return sorted(mine, key=lambda d: (d.created_at, d.url))

    def resend(self, recording_id: str, delivery_id: str) -> Delivery | None:
        found = self._deliveries.get(delivery_id)
        if found is None or found.recording_id != recording_id:
            return None
        self._set(
            delivery_id, next_attempt_at=self._now(), attempts=0, delivered_at=None,
            given_up_at=None,
        )  # fmt: skip
        return self._deliveries[delivery_id]

    def pending(self) -> int:
        return sum(1 for d in self._deliveries.values() if d.status == "pending")

    def _set(self, delivery_id: str, **values: object) -> None:
        if delivery_id in self._deliveries:
            self._deliveries[delivery_id] = replace(self._deliveries[delivery_id], **values)  # type: ignore[arg-type]


def in_memory_runtime(settings: Settings, clock: FakeClock | None = None) -> Runtime:
    """The runtime with its work queue and event bus in memory (no sockets, no run folder),
    and `clock` for the system's if given."""
    return open_runtime(settings, events=InMemoryEventBus(), work=InMemoryWorkQueue(), clock=clock)
