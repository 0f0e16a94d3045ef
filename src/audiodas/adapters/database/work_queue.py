"""WorkQueue on the recordings table (SQLite or PostgreSQL): the stored row is the job, so an
accepted upload can never lack one. Claims are leases (`claimed_by`, `lease_until`) taken by a
single UPDATE, safe across processes (SQLite serialises writers; PostgreSQL skips rows another
claimer has locked). Wake-ups travel on the event bus; `wait` falls back to a timer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from audiodas.adapters.database.tables import RecordingRow
from audiodas.domain import RecordingStatus
from audiodas.services.ports import WORK, Claim, EventBus

_UNFINISHED = (RecordingStatus.QUEUED.value, RecordingStatus.PROCESSING.value)


class SqlWorkQueue:
    def __init__(self, engine: Engine, events: EventBus) -> None:
        self.engine = engine
        self.events = events
        self._woken: asyncio.Event | None = None

    def enqueue(self, recording_id: str) -> None:
        self.events.publish({"type": WORK, "id": recording_id})

    def claim(self, worker: str, lease_s: float) -> Claim | None:
        now = _now()
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
        return self._update(claim, lease_until=_now() + timedelta(seconds=lease_s))

    def complete(self, claim: Claim) -> None:
        self._update(claim, claimed_by=None, lease_until=None)

    def fail(self, claim: Claim, retry_in_s: float) -> None:
        self._update(claim, claimed_by=None, lease_until=_now() + timedelta(seconds=retry_in_s))

    async def wait(self, timeout: float) -> None:
        if self._woken is None:
            self._woken = asyncio.Event()
            self.events.subscribe(self._on_event)
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            pass
        self._woken.clear()

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


def _now() -> datetime:
    return datetime.now(UTC)
