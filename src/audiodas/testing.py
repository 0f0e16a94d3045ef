"""In-memory twins of the ports the application owns, shipped with the package (as procrastinate
ships `InMemoryConnector` and httpx `MockTransport`), for fast tests of the layers above them:

    runtime = in_memory_runtime(Settings(data_dir=tmp_path))
    app = create_app(runtime=runtime, inference=FakeInference("Hello."))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client: ...

`FakeClock` is the Clock port's: time moves when a test says so. The repository and the file
store stay real (SQLite or PostgreSQL, a local folder): they are cheap, and what the API
promises depends on them. End-to-end tests use the real adapters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audiodas.adapters.listeners import Listeners
from audiodas.config import Settings
from audiodas.domain import Segment, Transcript
from audiodas.runtime import Runtime, open_runtime
from audiodas.services.ports import Handler


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
    """Answers every transcription with `text` (one segment over the audio), as the API's
    InferenceClient would, handing the segment to `on_segment` first if given; then raises
    `failure`, if given (an inference error the client would raise). `calls` records the paths
    it was given."""

    def __init__(
        self, text: str = "", language: str = "en", failure: Exception | None = None
    ) -> None:
        self.text, self.language, self.failure = text, language, failure
        self.calls: list[Path] = []

    async def transcribe(self, path: Path, on_segment=None, **options: object) -> Transcript:  # type: ignore[no-untyped-def]
        self.calls.append(path)
        segments = [Segment(0.0, 1.0, self.text)] if self.text else []
        for segment in segments if on_segment else ():
            await on_segment(segment)
        if self.failure is not None:
            raise self.failure
        return Transcript(text=self.text, language=self.language, segments=segments)


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


def in_memory_runtime(settings: Settings, clock: FakeClock | None = None) -> Runtime:
    """The runtime with its work queue and event bus in memory (no sockets, no run folder),
    and `clock` for the system's if given."""
    return open_runtime(settings, events=InMemoryEventBus(), work=InMemoryWorkQueue(), clock=clock)
