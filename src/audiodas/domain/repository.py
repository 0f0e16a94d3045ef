"""The storage interface the domain needs; adapters.database implements it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from audiodas.domain.recording import Recording, RecordingStatus


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

    def count_by_status(self) -> dict[RecordingStatus, int]: ...

    def ping(self) -> None: ...
