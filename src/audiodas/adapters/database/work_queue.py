"""WorkQueue on the recordings table (SQLite, one machine): the stored row is the job, so an
accepted upload can never lack one. Claims are leases (`claimed_by`, `lease_until`) taken by a
single UPDATE, safe across processes (SQLite serialises writers). Wake-ups travel on the event
bus; consumers also look for work every `sweep_interval_s`. PostgreSQL deployments use
procrastinate instead (`procrastinate_queue.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, or_, select, update

from audiodas.adapters.database.tables import RecordingRow
from audiodas.adapters.failures import describe, log_requeued
from audiodas.config import Settings
from audiodas.domain import RecordingStatus
from audiodas.services.ports import WORK, Clock, EventBus, Handler, SystemClock

log = logging.getLogger("audiodas.engine")

_UNFINISHED = (RecordingStatus.QUEUED.value, RecordingStatus.PROCESSING.value)


@dataclass(frozen=True)
class Claim:
    """A recording a consumer has taken, until it completes, fails or its lease runs out."""

    recording_id: str
    worker: str


class SqlWorkQueue:
    def __init__(
        self, engine: Engine, events: EventBus, settings: Settings, clock: Clock | None = None
    ) -> None:
        self.clock = clock or SystemClock()  # leases and back-off
        self.engine = engine
        self.events = events
        self.lease_s = settings.work_lease_s
        self.sweep_s = settings.sweep_interval_s
        self.requeue_after_s = settings.requeue_after_s
        self._woken: asyncio.Event | None = None
        self._consumers: list[asyncio.Task] = []
        self._busy: dict[asyncio.Task, Claim] = {}
        self._stopping = False

    # WorkQueue ------------------------------------------------------------------------------

    def enqueue(self, recording_id: str, transaction: object) -> None:
        # The row is the job: only a wake-up to send (a claimer that wakes before the commit
        # waits for SQLite's write lock, then sees the row).
        self.events.publish({"type": WORK, "id": recording_id})

    async def serve(self, handle: Handler, *, worker: str, concurrency: int) -> None:
        self._consumers = [
            asyncio.create_task(self._consume(handle, worker), name=f"audiodas-consumer-{i}")
            for i in range(concurrency)
        ]
        await asyncio.gather(*self._consumers, return_exceptions=True)

    async def stop(self, grace: float) -> None:
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

    # Claims (one UPDATE each) ---------------------------------------------------------------

    def claim(self, worker: str, lease_s: float) -> Claim | None:
        """The oldest unclaimed work, now held by `worker` for `lease_s` seconds; None if none."""
        now = self.clock.now()
        free = or_(RecordingRow.lease_until.is_(None), RecordingRow.lease_until < now)
        oldest = (
            select(RecordingRow.id)
            .where(RecordingRow.status.in_(_UNFINISHED), free)
            .order_by(RecordingRow.created_at, RecordingRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers anyway
            .scalar_subquery()
        )
        statement = (
            update(RecordingRow)
            .where(RecordingRow.id == oldest, free)
            .values(claimed_by=worker, lease_until=now + timedelta(seconds=lease_s))
            .returning(RecordingRow.id)
        )
        with self.engine.begin() as connection:
            recording_id = connection.execute(statement).scalar()
        return Claim(recording_id, worker) if recording_id else None

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        """Renew the lease; False if the claim was lost (it ran out and another took it)."""
        return self._update(claim, lease_until=self.clock.now() + timedelta(seconds=lease_s))

    def complete(self, claim: Claim) -> None:
        self._update(claim, claimed_by=None, lease_until=None)

    def fail(self, claim: Claim, retry_in_s: float) -> None:
        """Give the work back, claimable again after `retry_in_s` seconds."""
        self._update(
            claim, claimed_by=None, lease_until=self.clock.now() + timedelta(seconds=retry_in_s)
        )

    async def wait(self, timeout: float) -> None:
        """Return when work may have arrived, or after `timeout` seconds."""
        if self._woken is None:
            self._woken = asyncio.Event()
            self.events.subscribe(self._on_event)
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            pass
        self._woken.clear()

    # Consumers ------------------------------------------------------------------------------

    async def _consume(self, handle: Handler, worker: str) -> None:
        while not self._stopping:
            try:
                claim = await asyncio.to_thread(self.claim, worker, self.lease_s)
            except Exception as exc:
                log.warning("could not claim work: %s; trying again shortly", describe(exc))
                claim = None
            if claim is None:
                await self.wait(self.sweep_s)
                continue
            await self._run(handle, claim)

    async def _run(self, handle: Handler, claim: Claim) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._busy[task] = claim
        heartbeat = asyncio.create_task(self._heartbeat(claim))
        try:
            await handle(claim.recording_id)
            await asyncio.to_thread(self.complete, claim)
        except asyncio.CancelledError:
            # Cut short (shutdown): give it back for the next engine, at once.
            await asyncio.shield(asyncio.to_thread(self.fail, claim, 0))
            raise
        except Exception as exc:
            log_requeued(log, claim.recording_id, exc)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.fail, claim, self.requeue_after_s)
        finally:
            heartbeat.cancel()
            self._busy.pop(task, None)

    async def _heartbeat(self, claim: Claim) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                if not await asyncio.to_thread(self.heartbeat, claim, self.lease_s):
                    log.warning("recording %s: claim lost (lease ran out)", claim.recording_id)
            except Exception as exc:
                log.warning("recording %s: heartbeat failed: %s", claim.recording_id, describe(exc))

    def _on_event(self, event: dict) -> None:
        if event.get("type") == WORK and self._woken is not None:
            self._woken.set()

    def _update(self, claim: Claim, **values: object) -> bool:
        statement = (
            update(RecordingRow)
            .where(RecordingRow.id == claim.recording_id, RecordingRow.claimed_by == claim.worker)
            .values(**values)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1
