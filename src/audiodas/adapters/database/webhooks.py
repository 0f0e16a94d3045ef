"""The webhook outbox: deliveries written with the status change that caused them, claimed by
any engine with a lease (a sender that dies mid-send leaves it to run out), then marked
delivered, rescheduled or given up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, func, select, update

from audiodas.adapters.database.connect import reads
from audiodas.adapters.database.tables import WebhookDeliveryRow as DeliveryRow
from audiodas.adapters.failures import at_the_edge
from audiodas.domain.webhooks import Delivery
from audiodas.services.ports import Clock, SystemClock

_DUE = (DeliveryRow.delivered_at.is_(None), DeliveryRow.given_up_at.is_(None))
_D = DeliveryRow.__table__.c


def to_row(delivery: Delivery) -> DeliveryRow:
    return DeliveryRow(
        id=delivery.id,
        recording_id=delivery.recording_id,
        event=delivery.event,
        url=delivery.url,
        body=delivery.body.decode(),
        created_at=delivery.created_at,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at or delivery.created_at,
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        row.id, row.recording_id, row.event, row.url, row.body.encode(), row.attempts,
        row.created_at, row.next_attempt_at, row.delivered_at, row.given_up_at, row.last_error,
    )  # fmt: skip


@at_the_edge
class SqlWebhookOutbox:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self._reads = reads(engine)

    def claim(self, lease_s: float) -> Delivery | None:
        """The delivery due longest, held for `lease_s` seconds (its attempt counted); None if
        none is due."""
        now = self.clock.now()
        oldest = (
            select(_D.id)
            .where(*_DUE, _D.next_attempt_at <= now)
            .order_by(_D.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers anyway
            .scalar_subquery()
        )
        statement = (
            update(DeliveryRow)
            .where(_D.id == oldest, _D.next_attempt_at <= now, *_DUE)
            .values(next_attempt_at=now + timedelta(seconds=lease_s), attempts=_D.attempts + 1)
            .returning(*_D)
        )
        with self.engine.begin() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _delivery(row)

    def delivered(self, delivery_id: str) -> None:
        self._set(delivery_id, delivered_at=self.clock.now(), last_error=None)

    def retry(self, delivery_id: str, error: str, at: datetime) -> None:
        self._set(delivery_id, next_attempt_at=at, last_error=error)

    def give_up(self, delivery_id: str, error: str) -> None:
        self._set(delivery_id, given_up_at=self.clock.now(), last_error=error)

    def of_recording(self, recording_id: str) -> list[Delivery]:
        """Every delivery of the recording's events, oldest first."""
        query = select(*_D).where(_D.recording_id == recording_id).order_by(_D.created_at, _D.url)
        with self._reads.connect() as connection:
            return [_delivery(row) for row in connection.execute(query)]

    def resend(self, recording_id: str, delivery_id: str) -> Delivery | None:
        """The delivery due again now with a fresh count of attempts (a receiver fixed after it
        was given up, or one that lost what it got); None if the recording has no such one."""
        statement = (
            update(DeliveryRow)
            .where(_D.id == delivery_id, _D.recording_id == recording_id)
            .values(
                next_attempt_at=self.clock.now(), attempts=0, delivered_at=None, given_up_at=None
            )
            .returning(*_D)
        )
        with self.engine.begin() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _delivery(row)

    def pending(self) -> int:
        with self._reads.connect() as connection:
            return connection.execute(select(func.count()).where(*_DUE)).scalar_one()

    def _set(self, delivery_id: str, **values: object) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(DeliveryRow).where(_D.id == delivery_id).values(**values))
