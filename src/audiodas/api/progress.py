"""Stage progress for SSE streams: the engine publishes stage and status changes, and each
window of a transcription under way, on the event bus; this process's hub hands each to the streams following that recording. No stream polls
the database (each re-reads it only on a slow timer, to catch an event the bus dropped)."""

from __future__ import annotations

import asyncio

from audiodas.services.ports import STAGE, STATUS, TRANSCRIPT, EventBus


class Following:
    """One stream's subscription: events for its recording arrive in `queue` until closed."""

    def __init__(self, hub: ProgressHub, recording_id: str) -> None:
        self.hub, self.recording_id = hub, recording_id
        self.queue: asyncio.Queue[dict] = asyncio.Queue()

    def close(self) -> None:
        self.hub._drop(self)


class ProgressHub:
    def __init__(self, events: EventBus) -> None:
        self._followers: dict[str, set[Following]] = {}
        events.subscribe(self._deliver)

    def follow(self, recording_id: str) -> Following:
        following = Following(self, recording_id)
        self._followers.setdefault(recording_id, set()).add(following)
        return following

    def _drop(self, following: Following) -> None:
        followers = self._followers.get(following.recording_id)
        if followers is not None:
            followers.discard(following)
            if not followers:
                del self._followers[following.recording_id]

    def _deliver(self, event: dict) -> None:
        if event.get("type") in (STAGE, STATUS, TRANSCRIPT):
            for following in self._followers.get(event["id"], ()):
                following.queue.put_nowait(event)
