"""Ports the application owns beside the repository: where files are kept, how work reaches an
engine, how progress reaches the API, the API's awaited reads, the webhooks waiting to be
sent, and the time. Adapters implement them; `runtime.py` picks the implementations.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from audiodas.domain import (
    Order,
    Recording,
    RecordingStatus,
    Segment,
    Transcript,
    VariantName,
    VersionPage,
)
from audiodas.domain.audit import Action, AuditEntry, StoredEntry
from audiodas.domain.transcript import TranscribedWindow
from audiodas.domain.webhooks import Delivery
from audiodas.slots import Slots


class Clock(Protocol):
    """The time, and waiting for it: retention, stage times, back-off. A test's clock moves
    when it is told to (audiodas.testing.FakeClock)."""

    def now(self) -> datetime:
        """Aware, UTC."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class StagedBlob(Protocol):
    """A file being received: counted and hashed as it is written, refused past its limit."""

    id: str  # of the recording it becomes, if it is kept
    path: Path  # the local file written, which tools (the probe) can read once closed
    size: int

    @property
    def sha256(self) -> str: ...

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None:
        """Finish writing (durably); the blob can then be probed and put."""
        ...

    def discard(self) -> None: ...


class BlobStore(Protocol):
    """The recordings' files, by key. A blob appears whole or not at all; the keys are the
    store's to make (`put` returns one) and are what the database keeps."""

    def stage(self, max_bytes: int, *, to_keep: bool = False) -> StagedBlob:
        """A local file to receive an upload into, private to this process until `keep`.
        `to_keep`: meant to become a recording, so a remote store may send it on its way as
        it arrives (keeping it then costs its last part, not the whole file)."""
        ...

    def keep(self, staged: StagedBlob, name: str) -> str:
        """A received upload in as the `name` of its recording (`staged.id`); its key."""
        ...

    def scratch(self, suffix: str) -> Path:
        """A fresh local file for a tool to write its output to (then `put`, or unlink)."""
        ...

    def put(self, source: Path, recording_id: str, name: str) -> str:
        """Move a finished local file in as the recording's `name`, atomically; its key."""
        ...

    def stat(self, key: str) -> os.stat_result:
        """Size and modification time; FileNotFoundError if there is no such blob."""
        ...

    def open_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from `start`."""
        ...

    def local_path(self, key: str) -> Path:
        """A path that tools (FFmpeg, the models, zero-copy reads) can open."""
        ...

    def delete_recording(self, recording_id: str) -> None:
        """Every blob of the recording; nothing if it has none."""
        ...

    def delete(self, key: str) -> None:
        """One blob (an original past its own retention); nothing if it is gone."""
        ...

    # A store that serves its files itself (`redirects`): players are sent there.
    redirects: bool

    def presigned(self, key: str, *, content_type: str, disposition: str) -> str:
        """A URL that reads the blob for a while, answered with these headers."""
        ...

    def close(self) -> None:
        """Let go of what this process holds (its temp folder)."""
        ...


Handler = Callable[[str], Awaitable[None]]


class WorkQueue(Protocol):
    """How recordings with work reach engines. Delivery is at least once: work whose engine
    dies is handed out again, and the stages, being idempotent, leave one set of results."""

    def enqueue(self, recording_id: str, transaction: object) -> None:
        """Queue the recording's work. `transaction`: the database connection the recording is
        being stored (or reopened) on; the job commits, or rolls back, with it."""
        ...

    async def serve(self, handle: Handler, *, worker: str, concurrency: int) -> None:
        """Call `handle(recording_id)` for queued work, at most `concurrency` at once, until
        `stop`. A handle that raises puts its work back, to be tried again later."""
        ...

    async def stop(self, grace: float) -> None:
        """Take no more work; running handles get `grace` seconds, then are cancelled and
        their work goes back to the queue at once."""
        ...


# Event types on the bus.
WORK = "work"  # new work was enqueued
STAGE = "stage"  # {"id", "stage": Stage.as_dict()}
STATUS = "status"  # {"id", "status"}
TRANSCRIPT = "transcript"  # {"id", "start_s", "done_s", "total_s"}: one more window stored


class EventBus(Protocol):
    """Small events between the processes of a deployment. Best effort: a listener that misses
    one catches up from the database (the source of truth) on its next slow re-read."""

    def publish(self, event: dict) -> None:
        """Never blocks; callable from any thread."""
        ...

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        """Call `listener` on this process's event loop for each event; returns the unsubscribe."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class AwaitedReads(Protocol):
    """The API's most frequent reads, awaited so that an HTTP process's event loop serves other
    requests while a database server answers one. Same results as the repository's methods of
    the same names."""

    async def version(self, recording_id: str) -> datetime | None: ...

    async def get(self, recording_id: str, *, segments: bool) -> Recording | None: ...

    async def get_many(self, recording_ids: list[str]) -> list[Recording]: ...

    async def versions(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class WebhookOutbox(Protocol):
    """Webhook deliveries, queued with the status changes that caused them (at least once)."""

    def claim(self, lease_s: float) -> Delivery | None:
        """The delivery due longest, held for `lease_s` (its attempt counted); None if none."""
        ...

    def delivered(self, delivery_id: str) -> None: ...

    def retry(self, delivery_id: str, error: str, at: datetime) -> None: ...

    def give_up(self, delivery_id: str, error: str) -> None: ...

    def of_recording(self, recording_id: str) -> list[Delivery]: ...

    def resend(self, recording_id: str, delivery_id: str) -> Delivery | None:
        """Due again now, attempts counted afresh; None if the recording has no such delivery."""
        ...


class Encoder(Protocol):
    """Makes a recording's variants from its original (FFmpeg: adapters/ffmpeg.py)."""

    async def encode(
        self, variant: VariantName, source: Path, target: Path, *, channels: int, timeout: float
    ) -> tuple[str, int]:
        """Write `target`; its SHA-256 and size. Raises with a one-line reason when it cannot."""
        ...


class Inference(Protocol):
    """The models, each call in an inference process (inference/pool.py). The caller holds an
    AI slot (`slots`) around each call."""

    slots: Slots

    async def transcribe(
        self,
        path: Path,
        *,
        timeout: float,
        word_timestamps: bool = False,
        diarize: bool = False,
        speakers: int | None = None,
        done: TranscribedWindow | None = None,
        on_window: Callable[[TranscribedWindow], Awaitable[None]] | None = None,
    ) -> Transcript:
        """The whole transcript, with speakers. `on_window` is given each window (of
        `transcribe_window_s`) once it is transcribed; `done` is what an interrupted
        transcription of this file stored (a window ending where it ends): not transcribed
        again, and the result is that of one uninterrupted run."""
        ...

    async def summarize(self, text: str, *, timeout: float) -> str | None: ...


class AuditLog(Protocol):
    """The audit trail (domain/audit.py): entries appended on their own (what the recordings'
    repository does not record in its own transactions: keys, refused sign-ins), read newest
    first, and read as stored to verify the chain."""

    def append(self, entry: AuditEntry) -> AuditEntry: ...

    def page(
        self,
        *,
        limit: int,
        before: int | None = None,
        recording_id: str | None = None,
        action: Action | None = None,
    ) -> list[AuditEntry]: ...

    def stored(self, *, after: int = 0, limit: int = 1000) -> list[StoredEntry]: ...

    def head(self) -> tuple[int, str]: ...


class LiveDecoder(Protocol):
    """A live session's line to the models (inference/service.py): its stretches decoded one
    at a time, by a process of their own, so batch work keeps its AI slots."""

    async def decode(
        self, path: Path, *, timeout: float, language: str | None = None, prompt: str | None = None
    ) -> list[Segment]:
        """Segments of the raw 16 kHz mono 16-bit PCM at `path`, times from its start."""
        ...

    async def close(self) -> None: ...


class Service(Protocol):
    """Something the engine runs beside its work until it stops (the webhook sender)."""

    async def run(self) -> None: ...


class StateReport(Protocol):
    """Where the engine says how it is, for /healthz and /metrics in the API's processes
    (adapters/engine_reports.py: a file in the run folder)."""

    interval_s: float

    def write(self, state: dict) -> None: ...

    def remove(self) -> None: ...
