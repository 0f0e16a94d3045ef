"""The API's own async connections to PostgreSQL (`adapters/database/connections.py`): kept
open and bounded, a connection the server cut replaced, an outage answered as one."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from audiodas.adapters.database import connect
from audiodas.adapters.database import connections as connections_module
from audiodas.adapters.database.connections import AsyncConnections
from audiodas.adapters.failures import database_unavailable

PID = text("SELECT pg_backend_pid()")


@pytest.fixture
def conninfo(postgres) -> str:
    return postgres.create_database(f"a_{uuid.uuid4().hex[:12]}")


async def failure_of(connections: AsyncConnections) -> Exception:
    """What a read on a cut connection raises."""
    try:
        await connections.fetch(PID, {})
    except Exception as error:  # noqa: BLE001 - the caller inspects it
        return error
    raise AssertionError("a read on a cut connection answered")


def test_reads_share_at_most_their_connections_and_keep_them(conninfo) -> None:
    async def run() -> tuple[set[int], set[int]]:
        connections = AsyncConnections(conninfo, size=3)
        slow = text("SELECT pg_backend_pid() FROM pg_sleep(0.1)")
        burst = await asyncio.gather(*(connections.fetch(slow, {}) for _ in range(12)))
        after = [await connections.fetch(PID, {}) for _ in range(5)]
        await connections.close()
        return {rows[0][0] for rows in burst}, {rows[0][0] for rows in after}

    during, after = asyncio.run(run())
    assert len(during) == 3  # twelve reads at once, three backends
    assert after <= during  # kept open, not opened again


def test_a_connection_cut_while_idle_is_replaced_unseen(conninfo, postgres, monkeypatch) -> None:
    async def run() -> tuple[int, int]:
        connections = AsyncConnections(conninfo, size=1)
        first = (await connections.fetch(PID, {}))[0][0]
        postgres.terminate(first)  # a restart, a proxy's idle timeout
        monkeypatch.setattr(connect, "PING_AFTER_S", 0.0)  # it has sat long enough
        second = (await connections.fetch(PID, {}))[0][0]
        await connections.close()
        return first, second

    first, second = asyncio.run(run())
    assert second != first


def test_a_connection_cut_in_steady_use_fails_one_read_as_an_outage(conninfo, postgres) -> None:
    async def run() -> tuple[BaseException, int, int]:
        connections = AsyncConnections(conninfo, size=1)
        first = (await connections.fetch(PID, {}))[0][0]
        postgres.terminate(first)
        failure = await failure_of(connections)  # not pinged: in steady use
        second = (await connections.fetch(PID, {}))[0][0]
        await connections.close()
        return failure, first, second

    failure, first, second = asyncio.run(run())
    assert database_unavailable(failure)  # the API answers 503, worth trying again
    assert second != first  # and the next read has a connection of its own


def test_after_a_server_restart_one_read_fails_and_the_next_is_answered(conninfo, postgres) -> None:
    async def run() -> tuple[BaseException, set[int], int]:
        connections = AsyncConnections(conninfo, size=3)
        slow = text("SELECT pg_backend_pid() FROM pg_sleep(0.1)")
        opened = {
            rows[0][0]
            for rows in await asyncio.gather(*(connections.fetch(slow, {}) for _ in range(3)))
        }
        for pid in opened:  # every connection cut at once, as a restart does
            postgres.terminate(pid)
        failure = await failure_of(connections)
        answered = (await connections.fetch(PID, {}))[0][0]
        await connections.close()
        return failure, opened, answered

    failure, opened, answered = asyncio.run(run())
    assert database_unavailable(failure)
    assert len(opened) == 3 and answered not in opened


def test_a_read_that_finds_no_free_connection_in_time_is_an_outage(conninfo, monkeypatch) -> None:
    """Every connection held (reads stuck behind a lock): a new read gives up after the wait,
    as a 503, and once they are done the next read gets a connection at once."""
    monkeypatch.setattr(connections_module, "_WAIT_S", 0.3)

    async def run() -> tuple[Exception, float, list]:
        connections = AsyncConnections(conninfo, size=2)
        slow = text("SELECT pg_sleep(1.5)")
        held = [asyncio.create_task(connections.fetch(slow, {})) for _ in range(2)]
        await asyncio.sleep(0.2)  # both connections taken
        started = asyncio.get_running_loop().time()
        try:
            await connections.fetch(PID, {})
        except Exception as error:  # noqa: BLE001 - inspected below
            failure, waited = error, asyncio.get_running_loop().time() - started
        else:
            raise AssertionError("a read answered with every connection held")
        await asyncio.gather(*held)
        after = await asyncio.wait_for(connections.fetch(PID, {}), 1)
        await connections.close()
        return failure, waited, after

    failure, waited, after = asyncio.run(run())
    assert database_unavailable(failure)  # 503
    assert 0.3 <= waited < 1.2  # gave up after the wait, not when a connection came back
    assert after  # the pool is whole again
