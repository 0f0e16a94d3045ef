"""The EventBus port's contract, run against its in-memory twin (audiodas.testing) and both
real buses (Unix datagrams on one machine, LISTEN/NOTIFY on PostgreSQL): what one process
publishes reaches its listeners whole and in order, and an unsubscribed listener hears no more.

    (EventBus, InMemoryEventBus)  (EventBus, LocalBus)  (EventBus, PostgresBus)"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from audiodas.adapters.database.pg_bus import PostgresBus
from audiodas.adapters.local_bus import LocalBus
from audiodas.testing import InMemoryEventBus


@pytest.fixture(params=["twin", "local", "postgresql"])
def bus(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "twin":
        return InMemoryEventBus()
    if request.param == "local":
        return LocalBus(tmp_path / "run")
    cluster = request.getfixturevalue("postgres")
    return PostgresBus(cluster.create_database(f"b_{uuid.uuid4().hex[:12]}"))


async def heard(received: list, count: int, within_s: float = 5.0) -> list:
    deadline = asyncio.get_running_loop().time() + within_s
    while len(received) < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return received


def test_published_events_reach_listeners_whole_and_in_order(bus) -> None:  # type: ignore[no-untyped-def]
    async def run() -> tuple[list, ...]:
        await bus.start()
        first, second, after = [], [], []
        bus.subscribe(first.append)
        stop_second = bus.subscribe(second.append)
        events = [{"type": "stage", "id": "r1", "n": n, "text": "é" * n} for n in range(5)]
        for event in events:
            bus.publish(event)
        await heard(first, 5)
        await heard(second, 5)
        stop_second()
        bus.subscribe(after.append)
        bus.publish({"type": "status", "id": "r1", "status": "done"})
        await heard(after, 1)
        await asyncio.sleep(0.2)  # time for a stray delivery to the unsubscribed one
        await bus.close()
        return events, first, second, after

    events, first, second, after = asyncio.run(run())
    assert first[:5] == events and second == events
    assert first[5:] == after == [{"type": "status", "id": "r1", "status": "done"}]
