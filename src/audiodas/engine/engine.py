"""The engine: consumers take recording ids from the channel and run the pipeline, at most
`recording_slots` at a time; a sweeper re-offers unfinished recordings from the database.

Delivery: at least once. The database row is the source of truth; a recording interrupted by
a crash is found by the next start (or sweep) and its unfinished stages run again. Stages are
idempotent: a re-run writes the same files under the same names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from audiodas.engine.channel import Channel, MemoryChannel
from audiodas.engine.pipeline import Pipeline
from audiodas.engine.slots import Slots
from audiodas.runtime import Runtime

log = logging.getLogger("audiodas.engine")


class Engine:
    def __init__(self, runtime: Runtime, channel: Channel | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.repository = runtime.repository
        self.channel = channel or MemoryChannel(settings.queue_size)
        self.ai = runtime.ai
        self.slots = runtime.slots  # "ai" is the SpeechAI's; the engine adds its own two
        self.slots["recordings"] = Slots("recordings", settings.recording_slots)
        self.slots["ffmpeg"] = Slots("ffmpeg", settings.ffmpeg_slots)
        self.pipeline = Pipeline(
            settings,
            runtime.repository,
            runtime.store,
            self.ai,
            runtime.topics,
            runtime.metrics,
            self.slots["ffmpeg"],
        )
        self.in_flight: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumers: list[asyncio.Task] = []
        self._busy: dict[asyncio.Task, str] = {}
        self._sweeper: asyncio.Task | None = None
        self._stopping = False
        self._register_metrics()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.ai.load()
        await self.sweep()
        self._consumers = [
            asyncio.create_task(self._consume(), name=f"audiodas-consumer-{i}")
            for i in range(self.runtime.settings.recording_slots)
        ]
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="audiodas-sweeper")
        log.info("engine started: %s", {k: s.capacity for k, s in self.slots.items()})

    def submit(self, recording_id: str) -> None:
        """Offer an id from any thread; never blocks (a full channel leaves it to the sweeper)."""
        if self._loop is not None and not self._stopping:
            self._loop.call_soon_threadsafe(self.channel.offer, recording_id)

    async def sweep(self) -> None:
        """Offer every unfinished recording not already waiting or running, oldest first."""
        for recording_id in await asyncio.to_thread(self.repository.unfinished_ids):
            if recording_id in self.in_flight or recording_id in self.channel:
                continue
            if not self.channel.offer(recording_id):
                break

    async def stop(self, grace: float) -> None:
        """Take no new work; let running recordings finish within `grace` seconds, then
        cancel them (their unfinished stages go back to pending for the next start)."""
        self._stopping = True
        if self._sweeper:
            self._sweeper.cancel()
        busy = [task for task in self._consumers if task in self._busy]
        for task in self._consumers:
            if task not in self._busy:
                task.cancel()
        if busy:
            log.info("draining %d recording(s), up to %.0f s", len(busy), grace)
            _, late = await asyncio.wait(busy, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(
            *self._consumers, *([self._sweeper] if self._sweeper else []), return_exceptions=True
        )
        log.info("engine stopped")

    async def _consume(self) -> None:
        task = asyncio.current_task()
        while not self._stopping:
            recording_id = await self.channel.take()
            if self._stopping:
                return
            if recording_id in self.in_flight:
                continue
            self.in_flight.add(recording_id)
            self._busy[task] = recording_id
            try:
                async with self.slots["recordings"].hold():
                    await self.pipeline.process(recording_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording %s: engine error; a later sweep retries it", recording_id)
            finally:
                self.in_flight.discard(recording_id)
                self._busy.pop(task, None)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.runtime.settings.sweep_interval_s)
            with contextlib.suppress(Exception):
                await self.sweep()

    def _register_metrics(self) -> None:
        metrics = self.runtime.metrics
        metrics.gauge_from(
            "audiodas_queue_depth",
            "Recording ids waiting in the channel.",
            None,
            self.channel.depth,
        )
