"""On PostgreSQL, a read waiting on the database holds up no other request of its HTTP process:
the event loop goes on serving while it is awaited (`adapters/database/awaited.py`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from audiodas.adapters.database.awaited import awaited_reads
from audiodas.adapters.database.connect import create_engine_for, migrate
from audiodas.adapters.database.repository import SqlRecordingRepository
from audiodas.config import Settings
from audiodas.domain import DatabaseUnavailable


def test_a_read_waiting_on_postgresql_holds_up_no_other_request(
    postgres, start_server, audio_files
) -> None:
    url = postgres.create_database(f"r_{uuid.uuid4().hex[:12]}")
    server = start_server(audiodas_database_url=url)  # one HTTP process
    with audio_files["short_mp3"].open("rb") as f:
        accepted = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}, timeout=30)
    recording = f"{server.url}/api/v1/recordings/{accepted.json()['id']}"
    first_bytes = {"Range": "bytes=0-99"}
    assert httpx.get(f"{recording}/stream", headers=first_bytes).status_code == 206  # playing

    # A long transaction holds the table (a migration, a maintenance job): reads of it wait.
    with psycopg.connect(url) as holder, ThreadPoolExecutor(1) as pool:
        holder.execute("LOCK TABLE recordings IN ACCESS EXCLUSIVE MODE")
        waiting = pool.submit(httpx.get, recording, timeout=60)
        time.sleep(1)
        assert not waiting.done()
        started = time.monotonic()
        played = httpx.get(f"{recording}/stream", headers=first_bytes, timeout=10)
        assert played.status_code == 206
        assert time.monotonic() - started < 2  # the player is not held up behind the read
        assert not waiting.done()
        holder.rollback()
        assert waiting.result().status_code == 200  # and the read is answered once it can be


def test_reads_cancelled_while_postgresql_holds_them_leave_every_connection_usable(
    postgres,
) -> None:
    """A request cancelled mid-read (its client gone, a timeout) gives its connection back fit
    for the next read, not lost to the pool nor left with a query in flight."""
    url = postgres.create_database(f"r_{uuid.uuid4().hex[:12]}")
    engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
    migrate(engine)
    reads = awaited_reads(SqlRecordingRepository(engine))
    holder = engine.connect()  # the repository's own pool, apart from the awaited reads'

    async def cancel_then_read() -> list:
        holder.exec_driver_sql("LOCK TABLE recordings IN ACCESS EXCLUSIVE MODE")
        held = [asyncio.create_task(reads.version("a" * 32)) for _ in range(20)]  # > the pool
        await asyncio.sleep(1)
        assert not any(task.done() for task in held)
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        holder.rollback()
        # As many reads at once as the pool has connections, and more: each one answers.
        answers = await asyncio.wait_for(
            asyncio.gather(*(reads.version("a" * 32) for _ in range(20)), reads.ping()), 10
        )
        await reads.close()
        return answers

    try:
        assert asyncio.run(cancel_then_read()) == [None] * 21
    finally:
        holder.close()
        engine.dispose()


@pytest.mark.parametrize("first", ["version", "get"])
def test_after_a_server_restart_one_read_fails_and_every_next_one_is_answered(
    postgres, first
) -> None:
    """Whichever read finds the server restarted fails alone (503): the connections opened
    before it are retired, so every next read, of either kind, is answered."""
    url = postgres.create_database(f"r_{uuid.uuid4().hex[:12]}")
    engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
    migrate(engine)
    reads = awaited_reads(SqlRecordingRepository(engine))
    unknown = "a" * 32
    kinds = {
        "version": lambda: reads.version(unknown),
        "get": lambda: reads.get(unknown, segments=False),
    }

    async def restart_then_read() -> tuple[BaseException, list]:
        await asyncio.gather(*(read() for read in kinds.values()))  # connections open
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (url.rsplit("/", 1)[1],),
            )
        try:
            await kinds[first]()
        except Exception as error:  # noqa: BLE001 - inspected below
            failure = error
        else:
            raise AssertionError("a read on a cut connection answered")
        answers = [await read() for read in kinds.values()]
        await reads.close()
        return failure, answers

    try:
        failure, answers = asyncio.run(restart_then_read())
    finally:
        engine.dispose()
    assert isinstance(failure, DatabaseUnavailable)  # 503, from the adapter's edge
    assert answers == [None, None]  # the next reads, of either kind, answered
