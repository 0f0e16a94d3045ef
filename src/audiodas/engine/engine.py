"""The engine: consumers claim recordings from the WorkQueue and run the pipeline, at most
`recording_slots` at a time; the models run in the inference pool's processes, which the
engine also offers to the API's processes (the OpenAI-compatible endpoint).

Delivery: at least once. A claim is a lease renewed while the recording runs; if the engine
dies, the lease runs out and the next engine claims the recording again, and its unfinished
stages run again. Stages are idempotent: a re-run writes the same files under the same names.
Work arrives by wake-up events (each upload), with a slow timer as the fallback.
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
from audiodas.adapters.failures import database_unavailable, storage_full
from audiodas.engine.pipeline import Pipeline
from audiodas.inference import InferencePool, InferenceServer
from audiodas.runtime import Runtime
from audiodas.services.ports import Claim
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
        )
        self.in_flight: set[str] = set()
        self.health_file = reports.engines_folder(settings.run_path) / f"{os.getpid()}.json"
        self._consumers: list[asyncio.Task] = []
        self._busy: dict[asyncio.Task, Claim] = {}
        self._reporter: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        await self.inference_server.start()
        if self.consume:
            await self.ai.start()  # models load before the first claim and the first report
        self._reporter = asyncio.create_task(self._report_forever(), name="audiodas-health")
        if self.consume:
            self._consumers = [
                asyncio.create_task(self._consume_forever(), name=f"audiodas-consumer-{i}")
                for i in range(self.settings.recording_slots)
            ]
        log.info(
            "engine %s started: %s%s",
            self.worker_id,
            {k: s.capacity for k, s in self.slots.items()},
            "" if self.consume else " (inference only)",
        )

    async def stop(self, grace: float) -> None:
        """Take no new work; let running recordings finish within `grace` seconds, then cancel
        them: their claims are given back and unfinished stages go back to pending."""
        self._stopping = True
        busy = [task for task in self._consumers if task in self._busy]
        for task in self._consumers:
            if task not in self._busy:
                task.cancel()
        if busy:
            log.info("draining %d recording(s), up to %.0f s", len(busy), grace)
            _, late = await asyncio.wait(busy, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await self.inference_server.close()
        await self.ai.close()
        if self._reporter is not None:
            self._reporter.cancel()
            await asyncio.gather(self._reporter, return_exceptions=True)
        self.health_file.unlink(missing_ok=True)
        log.info("engine stopped")

    async def _consume_forever(self) -> None:
        lease = self.settings.work_lease_s
        while not self._stopping:
            try:
                claim = await asyncio.to_thread(self.work.claim, self.worker_id, lease)
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("could not claim work: %s; trying again shortly", _first_line(exc))
                else:
                    log.exception("could not claim work; trying again shortly")
                claim = None
            if claim is None:
                await self.work.wait(self.settings.sweep_interval_s)
                continue
            await self._process(claim)

    async def _process(self, claim: Claim) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._busy[task] = claim
        self.in_flight.add(claim.recording_id)
        heartbeat = asyncio.create_task(self._heartbeat(claim))
        try:
            async with self.slots["recordings"].hold():
                await self.pipeline.process(claim.recording_id)
            await asyncio.to_thread(self.work.complete, claim)
        except asyncio.CancelledError:
            # Cut short (shutdown): give it back for the next engine, at once.
            await asyncio.shield(asyncio.to_thread(self.work.fail, claim, 0))
            raise
        except Exception as exc:
            if database_unavailable(exc) or storage_full(exc):
                log.warning("recording %s: %s; retried later", claim.recording_id, _first_line(exc))
            else:
                log.exception("recording %s: engine error; retried later", claim.recording_id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.work.fail, claim, self.settings.retry_backoff_s * 8)
        finally:
            heartbeat.cancel()
            self.in_flight.discard(claim.recording_id)
            self._busy.pop(task, None)
            self._report()

    async def _heartbeat(self, claim: Claim) -> None:
        lease = self.settings.work_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await asyncio.to_thread(self.work.heartbeat, claim, lease):
                    log.warning("recording %s: claim lost (lease ran out)", claim.recording_id)
            except Exception:
                log.exception("recording %s: heartbeat failed", claim.recording_id)

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


def _first_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return (str(exc).splitlines() or [exc.__class__.__name__])[0]
