"""The engine: the WorkQueue hands it recordings, at most `recording_slots` at a time, and it
runs the pipeline on each; the models run in the inference pool's processes, which the engine
also offers to the API's processes (the OpenAI-compatible endpoint). It also sends the webhooks
that finished recordings queued.

Delivery: at least once (see the WorkQueue in use). If the engine dies, its work is handed out
again and its unfinished stages run again. Stages are idempotent: a re-run writes the same files
under the same names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid

from audiodas.adapters import engine_reports as reports
from audiodas.adapters.webhook_sender import WebhookSender
from audiodas.engine.pipeline import Pipeline
from audiodas.inference import InferencePool, InferenceServer
from audiodas.runtime import Runtime
from audiodas.slots import Slots

log = logging.getLogger("audiodas.engine")


class Engine:
    def __init__(self, runtime: Runtime, *, consume: bool = True) -> None:
        """`consume=False`: only the inference service (API nodes whose recordings are processed
        by `audiodas worker` elsewhere)."""
        settings = runtime.settings
        self.runtime = runtime
        self.settings = settings
        self.work = runtime.work
        self.consume = consume
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.ai = InferencePool(settings)
        self.inference_server = InferenceServer(self.ai, settings.run_path)
        self.slots = {
            "ai": self.ai.slots,
            "recordings": Slots("recordings", settings.recording_slots),
            "ffmpeg": Slots("ffmpeg", settings.ffmpeg_slots),
        }
        self.pipeline = Pipeline(
            settings,
            runtime.repository,
            runtime.store,
            self.ai,
            runtime.topics,
            runtime.metrics,
            self.slots["ffmpeg"],
            runtime.events,
            runtime.clock,
        )
        self.in_flight: set[str] = set()
        self.health_file = reports.engines_folder(settings.run_path) / f"{os.getpid()}.json"
        self._serving: asyncio.Task | None = None
        self._reporter: asyncio.Task | None = None
        self._webhooks: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        await self.inference_server.start()
        if self.consume:
            await self.ai.start()  # models load before the first claim and the first report
            repaired = await asyncio.to_thread(self.runtime.repository.repair_search)
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
        secret = self.settings.webhook_secret
        if self.consume and secret is not None:
            key = secret.get_secret_value().encode()
            sender = WebhookSender(self.settings, self.runtime.webhooks, key)
            self._webhooks = asyncio.create_task(sender.run(), name="audiodas-webhooks")
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
        await self.inference_server.close()
        await self.ai.close()
        for task in (self._reporter, self._webhooks):  # a delivery cut short is sent again
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self.health_file.unlink(missing_ok=True)
        log.info("engine stopped")

    async def _process(self, recording_id: str) -> None:
        self.in_flight.add(recording_id)
        log.info("recording %s: processing", recording_id)
        try:
            async with self.slots["recordings"].hold():
                await self.pipeline.process(recording_id)
        finally:
            self.in_flight.discard(recording_id)
            self._report()

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

    def _report(self) -> None:
        """The engine's state in the run folder, for /healthz and /metrics in the API's processes."""
        with contextlib.suppress(OSError):
            reports.write_state(self.health_file, self.state())

    async def _report_forever(self) -> None:
        self.health_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self._report()
            await asyncio.sleep(reports.INTERVAL_S)
