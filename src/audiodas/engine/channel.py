"""The channel between producers (uploads, start-up, sweeps) and the engine's consumers.

It carries recording ids only: the database row is the source of truth, so an id that does
not fit (channel full) or is lost (process killed) is found again by the next sweep.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Channel(Protocol):
    def offer(self, recording_id: str) -> bool:
        """Queue an id without waiting; False when full (a later sweep will offer it again)."""
        ...

    async def take(self) -> str:
        """Wait for the next id."""
        ...

    def depth(self) -> int: ...

    def __contains__(self, recording_id: str) -> bool: ...


class MemoryChannel:
    """A bounded asyncio.Queue that ignores an id already waiting in it."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._waiting: set[str] = set()

    def offer(self, recording_id: str) -> bool:
        if recording_id in self._waiting:
            return True
        try:
            self._queue.put_nowait(recording_id)
        except asyncio.QueueFull:
            return False
        self._waiting.add(recording_id)
        return True

    async def take(self) -> str:
        recording_id = await self._queue.get()
        self._waiting.discard(recording_id)
        return recording_id

    def depth(self) -> int:
        return self._queue.qsize()

    def __contains__(self, recording_id: str) -> bool:
        return recording_id in self._waiting
