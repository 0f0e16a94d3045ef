"""WorkQueue on procrastinate (PostgreSQL): any number of workers on any number of machines.

One job per recording, deferred in the transaction that stores it. A job is locked by its
recording id, so two jobs of one recording never run at once, and queueing-locked, so a
recording never has two jobs waiting. procrastinate's workers send heartbeats; every
`sweep_interval_s` each worker (a) retries the jobs of workers whose heartbeat is older than
`work_lease_s` and (b) gives a job to any unfinished recording that has none (a job aborted by a
shutdown, a retry, work stored before this queue existed). Both are safe to run on every worker
at once: a job changes state once, and the queueing lock refuses a second waiting job.
Delivery is at least once; the stages' idempotence leaves one set of results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import Engine, text

from audiodas.adapters.database.connect import libpq_url
from audiodas.adapters.failures import describe, log_requeued
from audiodas.config import Settings
from audiodas.services.ports import Handler

log = logging.getLogger("audiodas.engine")

QUEUE = "recordings"
TASK = "process_recording"

_ORPHANS = text(
    """
    SELECT r.id FROM recordings r
    WHERE r.status IN ('queued', 'processing')
      AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs j
        WHERE j.queue_name = :queue AND j.args ->> 'recording_id' = r.id
          AND j.status IN ('todo', 'doing'))
    ORDER BY r.created_at
    """
)


class ProcrastinateWorkQueue:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine  # the application's (SQLAlchemy), for the sweep's query
        self.lease_s = settings.work_lease_s
        self.sweep_s = settings.sweep_interval_s
        self.grace_s = settings.shutdown_grace_s
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=libpq_url(engine))
        )
        self._handle: Handler | None = None
        self._worker: asyncio.Task | None = None

        @self.app.task(
            name=TASK,
            queue=QUEUE,
            pass_context=False,
            retry=procrastinate.RetryStrategy(
                max_attempts=1000, wait=int(settings.requeue_after_s) or 1
            ),
        )
        async def process_recording(recording_id: str) -> None:
            assert self._handle is not None
            try:
                await self._handle(recording_id)
            except Exception as exc:
                log_requeued(log, recording_id, exc)
                raise

        self._task = process_recording

    def enqueue(self, recording_id: str, transaction: object) -> None:
        with contextlib.suppress(AlreadyEnqueued):  # it has a waiting job already
            self._job(recording_id, connection=transaction).defer(recording_id=recording_id)

    def _job(self, recording_id: str, **connection: object):  # type: ignore[no-untyped-def]
        """The recording's job: never two running at once, never two waiting."""
        return self._task.configure(lock=recording_id, queueing_lock=recording_id, **connection)

    async def serve(self, handle: Handler, *, worker: str, concurrency: int) -> None:
        self._handle = handle
        async with self.app.open_async():
            sweeper = asyncio.create_task(self._sweep_forever(), name="audiodas-sweep")
            self._worker = asyncio.create_task(
                self.app.run_worker_async(
                    queues=[QUEUE],
                    name=worker,
                    concurrency=concurrency,
                    install_signal_handlers=False,
                    shutdown_graceful_timeout=self.grace_s,
                    update_heartbeat_interval=self.lease_s / 3,
                    stalled_worker_timeout=self.lease_s,
                    delete_jobs="successful",
                ),
                name="audiodas-procrastinate",
            )
            try:
                await self._worker
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # serve itself was cancelled
                # `stop` cancelled the worker: serve ends, as the other queues' do
            finally:
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)

    async def stop(self, grace: float) -> None:
        if self._worker is not None:
            self._worker.cancel()  # procrastinate then waits up to shutdown_graceful_timeout
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("work sweep failed: %s", describe(exc))
            await asyncio.sleep(self.sweep_s)

    async def sweep(self) -> None:
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.lease_s
        ):
            with contextlib.suppress(Exception):  # another worker retried it first
                await manager.retry_job(job)
                log.info("job %s of a stalled worker retried", job.id)
        orphans = await asyncio.to_thread(self._orphans)
        for recording_id in orphans:
            with contextlib.suppress(AlreadyEnqueued):
                await self._job(recording_id).defer_async(recording_id=recording_id)
                log.info("recording %s had no job: queued", recording_id)

    def _orphans(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(_ORPHANS, {"queue": QUEUE}).scalars())
