"""Stage progress for SSE streams: the engine publishes stage and status changes on the event
bus; this process's hub hands each to the streams following that recording. No stream polls
the database (each re-reads it only on a slow timer, to catch an event the bus dropped)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from audiodas.services.ports import STAGE, STATUS, EventBus


class ProgressHub:
    def __init__(self, events: EventBus) -> None:
        self._followers: dict[str, set[asyncio.Queue[dict]]] = {}
        events.subscribe(self._deliver)

    @contextmanager
    def follow(self, recording_id: str) -> Iterator[asyncio.Queue[dict]]:
        queue: asyncio.Queue[dict] = asyncio.Queue()
        self._followers.setdefault(recording_id, set()).add(queue)
        try:
            yield queue
        finally:
            followers = self._followers[recording_id]
            followers.discard(queue)
            if not followers:
                del self._followers[recording_id]

    def _deliver(self, event: dict) -> None:
        if event.get("type") in (STAGE, STATUS):
            for queue in self._followers.get(event["id"], ()):
                queue.put_nowait(event)
