"""The storage interface the domain needs; adapters.database implements it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audiodas.domain.recording import Recording, RecordingStatus, Stage, Variant
from audiodas.domain.transcript import Transcript


@dataclass(frozen=True)
class RecordingPage:
    items: list[Recording]
    next_cursor: str | None


class RecordingRepository(Protocol):
    def add(self, recording: Recording) -> None: ...

    def get(self, recording_id: str) -> Recording | None: ...

    def list(
        self, *, limit: int, cursor: str | None = None, status: RecordingStatus | None = None
    ) -> RecordingPage: ...

    def delete(self, recording_id: str) -> bool: ...

    def unfinished_ids(self, limit: int = 1000) -> list[str]: ...

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
    ) -> None: ...

    def set_status(self, recording_id: str, status: RecordingStatus, now: datetime) -> None: ...

    def count_by_status(self) -> dict[RecordingStatus, int]: ...

    def ping(self) -> None: ...
