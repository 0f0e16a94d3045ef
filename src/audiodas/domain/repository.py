"""The storage interface the domain needs; adapters.database implements it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from audiodas.domain.audit import AuditEntry
from audiodas.domain.recording import (
    Hold,
    Recording,
    RecordingStatus,
    Stage,
    Variant,
    VariantName,
)
from audiodas.domain.search import Query, SearchPage
from audiodas.domain.transcript import Segment, TranscribedWindow, Transcript, Waveform, Word
from audiodas.domain.webhooks import Delivery


class Order(StrEnum):
    """How a list of recordings is ordered (a search is ordered by relevance)."""

    NEWEST = "newest"
    OLDEST = "oldest"
    LONGEST = "longest"
    SHORTEST = "shortest"
    TITLE = "title"  # by title, else by file name, A to Z


@dataclass(frozen=True)
class VersionPage:
    """A page of recordings as (id, updated_at): every change to a recording moves updated_at."""

    items: list[tuple[str, datetime]]
    next_cursor: str | None


@dataclass(frozen=True)
class StoredVariant:
    """What serving one file of a recording needs (`variant` is None until it is produced)."""

    filename: str
    status: RecordingStatus
    variant: Variant | None


class RecordingRepository(Protocol):
    """`audit`, where a method takes one: the audit trail's entry for the change, appended in
    the change's own transaction (both or neither)."""

    def add(
        self,
        recording: Recording,
        *,
        then: Callable[[object], None] | None = None,
        audit: AuditEntry | None = None,
    ) -> None:
        """Store a new recording; `then(transaction)` runs in the same transaction (the
        driver's connection), so what it writes commits or rolls back with the recording."""
        ...

    def get(self, recording_id: str, *, segments: bool = True) -> Recording | None:
        """The recording; its transcript's segments only if asked."""
        ...

    def versions(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        """A page of recordings in `order`, as (id, updated_at) pairs."""
        ...

    def search(
        self,
        query: Query,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
    ) -> SearchPage:
        """Recordings with every term of `query` somewhere in them, best first."""
        ...

    def version(self, recording_id: str) -> datetime | None:
        """The recording's updated_at; None if there is no such recording."""
        ...

    def get_many(self, recording_ids: list[str]) -> list[Recording]:
        """As listed (no transcript, no segments); missing ids are left out."""
        ...

    def find_variant(self, recording_id: str, name: VariantName) -> StoredVariant | None: ...

    def waveform(self, recording_id: str) -> Waveform | None: ...

    def words(self, recording_id: str) -> list[Word]: ...

    def save_waveform(self, recording_id: str, waveform: Waveform) -> None: ...

    def machine_segments(self, recording_id: str) -> list[Segment] | None:
        """The segments as transcription made them, if a reader corrected any."""
        ...

    def correct(
        self,
        recording_id: str,
        change: Callable[[Transcript, Transcript], Transcript],
        now: datetime,
        *,
        then: Callable[[object], None] | None = None,
        audit: AuditEntry | None = None,
    ) -> Transcript | None:
        """Store the transcript `change(stored, machine's)` makes, atomically (what `change`
        raises stores nothing), keeping the machine's the first time. A changed text makes a
        finished recording's summary again: its stage pending, the recording queued, `then`
        as for `add`. None if there is no such recording."""
        ...

    def save_speaker_names(
        self,
        recording_id: str,
        names: dict[str, str],
        now: datetime,
        *,
        audit: AuditEntry | None = None,
    ) -> bool:
        """Replace the names of the recording's speaker labels; False if there is no such one."""
        ...

    def save_title(
        self,
        recording_id: str,
        title: str | None,
        now: datetime,
        *,
        audit: AuditEntry | None = None,
    ) -> bool:
        """Give the recording a title (None: none); False if there is no such recording."""
        ...

    def delete(self, recording_id: str, *, audit: AuditEntry | None = None) -> bool: ...

    def set_retention(
        self, recording_id: str, until: datetime, now: datetime, *, audit: AuditEntry
    ) -> bool:
        """Move the end of the recording's retention; False if there is no such recording."""
        ...

    def originals_due(self, created_before: datetime, limit: int) -> list[str]:
        """Finished recordings made before then, with an archive copy and no hold, whose
        original is still there: their ids, oldest first."""
        ...

    def remove_original(self, recording_id: str, now: datetime, *, audit: AuditEntry) -> str | None:
        """Forget the original (its key returned, for the store to remove) and say when, if it
        is still due (no hold set meanwhile); None otherwise."""
        ...

    def set_hold(
        self, recording_id: str, hold: Hold | None, now: datetime, *, audit: AuditEntry
    ) -> bool:
        """Set (or with None release) the legal hold; False if there is no such recording."""
        ...

    def repair_search(self) -> int:
        """Remove search entries a delete had to leave (a full disk) and re-index what no
        longer matches its row; how many entries were touched."""
        ...

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
        """False if the recording is gone (deleted meanwhile): nothing was saved."""
        ...

    def save_window(self, recording_id: str, window: TranscribedWindow, now: datetime) -> bool:
        """One more window of a transcription under way: the transcript so far becomes
        `transcript.with_window(stored, window)`, searched, and `transcribed_s` the window's end.
        False if the recording is gone."""
        ...

    def set_status(
        self,
        recording_id: str,
        status: RecordingStatus,
        now: datetime,
        *,
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        """Move the status; if this call moves it, queue `deliveries` in the same transaction."""
        ...

    def reopen(
        self, recording_id: str, now: datetime, *, then: Callable[[object], None] | None = None
    ) -> bool:
        """Queue a failed recording again, its failed stages pending; False if not failed.
        `then(transaction)` as for `add`."""
        ...

    def count_by_status(self) -> dict[RecordingStatus, int]: ...

    def ping(self) -> None: ...
