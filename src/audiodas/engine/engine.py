"""The engine: the WorkQueue hands it recordings, at most `recording_slots` at a time, and it
runs the pipeline on each; the models run in the inference pool's processes, which the engine
also offers to the API's processes (the OpenAI-compatible endpoint). It also runs the webhook
sender. Built from its parts by `runtime.open_engine`.

Delivery: at least once (see the WorkQueue in use). If the engine dies, its work is handed out
again and its unfinished stages run again. Stages are idempotent: a re-run writes the same files
under the same names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Protocol

from audiodas.config import Settings
from audiodas.domain import RecordingRepository
from audiodas.engine.pipeline import Pipeline
from audiodas.services.ports import Service, StateReport, WorkQueue
from audiodas.slots import Slots

log = logging.getLogger("audiodas.engine")


class InferenceProcesses(Protocol):
    """The inference pool as the engine runs it: its processes started and stopped, and how
    they are (inference/pool.py)."""

    slots: Slots

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def state(self) -> dict: ...


class Engine:
    def __init__(
        self,
        settings: Settings,
        work: WorkQueue,
        repository: RecordingRepository,
        pipeline: Pipeline,
        ai: InferenceProcesses,
        inference_server: Service | None,
        slots: dict[str, Slots],
        report: StateReport,
        webhooks: Service | None = None,
        *,
        consume: bool = True,
        services: tuple[Service, ...] = (),
    ) -> None:
        """`consume=False`: only the inference service (API nodes whose recordings are processed
        by `audiodas worker` elsewhere). `inference_server` offers `ai` to the API's processes;
        `webhooks` sends the deliveries finished recordings queued."""
        self.settings = settings
        self.work = work
        self.repository = repository
        self.pipeline = pipeline
        self.ai = ai
        self.inference_server = inference_server
        self.slots = slots
        self.report = report
        self.webhooks = webhooks
        self.services = services  # run beside the work, as the webhook sender is
        self.consume = consume
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.in_flight: set[str] = set()
        self._serving: asyncio.Task | None = None
        self._reporter: asyncio.Task | None = None
        self._services: list[asyncio.Task] = []
        self._stopping = False

    async def start(self) -> None:
        if self.inference_server is not None:
            await self.inference_server.start()
        if self.consume:
            await self.ai.start()  # models load before the first claim and the first report
            repaired = await asyncio.to_thread(self.repository.repair_search)
            if repaired:
                log.info("search index repaired: %d entries removed or rewritten", repaired)
        self._reporter = asyncio.create_task(self._report_forever(), name="audiodas-health")
        if self.consume:
            self._serving = asyncio.create_task(
                self.work.serve(
                    self._process,
                    worker=self.worker_id,
                    concurrency=self.settings.recording_slots,
                ),
                name="audiodas-work",
            )
            if self.webhooks is not None:
                self._services.append(
                    asyncio.create_task(self.webhooks.run(), name="audiodas-webhooks")
                )
            for service in self.services:
                self._services.append(asyncio.create_task(service.run()))
        log.info(
            "engine %s started: %s%s",
            self.worker_id,
            {k: s.capacity for k, s in self.slots.items()},
            "" if self.consume else " (inference only)",
        )

    async def stop(self, grace: float) -> None:
        """Take no new work; let running recordings finish within `grace` seconds, then cancel
        them: their work goes back to the queue and unfinished stages back to pending."""
        self._stopping = True
        if self._serving is not None:
            await self.work.stop(grace)
            await asyncio.gather(self._serving, return_exceptions=True)
        if self.inference_server is not None:
            await self.inference_server.close()
        await self.ai.close()
        for task in (self._reporter, *self._services):  # a delivery cut short is sent again
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self.report.remove()
        log.info("engine stopped")

    async def _process(self, recording_id: str) -> None:
        self.in_flight.add(recording_id)
        log.info("recording %s: processing", recording_id)
        try:
            async with self.slots["recordings"].hold():
                await self.pipeline.process(recording_id)
        finally:
            self.in_flight.discard(recording_id)
            self.report.write(self.state())

    def state(self) -> dict:
        return {
            "worker": self.worker_id,
            "pid": os.getpid(),
            "consumes": self.consume,
            "stopping": self._stopping,
            "in_flight": sorted(self.in_flight),
            "slots": {kind: s.as_dict() for kind, s in self.slots.items()},
            "inference": self.ai.state(),
            "reported_at": time.time(),
        }

    async def _report_forever(self) -> None:
        while True:
            self.report.write(self.state())
            await asyncio.sleep(self.report.interval_s)
