"""The API's awaited reads (services.ports.AwaitedReads): a recording's version, a page of
versions, the recordings a cached rendering lacks, the health ping.

On SQLite a read is a call into this process's own library, cheaper than any hand-off
(profiled: thread hand-offs were the API's largest CPU share), so it runs as it is. On
PostgreSQL it is a round trip to a server process that needs a core of its own to answer: with
the engine keeping both cores busy, an HTTP process's event loop spent ~45 % of its time blocked
in these round trips (py-spy, 1000 listeners and a short upload a second), and every request
on it waited. Here they are awaited on psycopg's async connections, so the loop serves other
requests meanwhile. (Worker threads were tried: the GIL hand-offs made idle reads twice as slow.)
The hottest three (a version, a page, the ping) go through psycopg alone (`connections.py`);
the rarer cache misses assemble recordings with the repository's own code on SQLAlchemy's
asyncio layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import event

from audiodas.adapters.database.connections import AsyncConnections
from audiodas.adapters.database.engine import libpq_url, ping_if_idle
from audiodas.adapters.database.repository import (
    PING,
    VERSION,
    SqlRecordingRepository,
    read_many,
    read_one,
    version_page,
    versions_query,
)
from audiodas.adapters.database.tables import as_utc
from audiodas.domain import Recording, RecordingStatus, VersionPage
from audiodas.services.ports import AwaitedReads

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncConnection

# Per HTTP process, all kept open: overflow connections closed after each burst cost a
# PostgreSQL backend's start-up each time (measured: idle p95 of all requests 7 -> 43 ms). At
# 1000 users a process has about four reads in flight under load; more wait their turn.
_CONNECTIONS = 8
_MISS_CONNECTIONS = 2  # a few changed recordings a second, one connection each


def awaited_reads(repository: SqlRecordingRepository) -> AwaitedReads:
    if repository.engine.dialect.name == "sqlite":
        return InProcessReads(repository)
    return AsyncReads(repository)


class InProcessReads:
    """SQLite's: the repository's own reads, called on the event loop."""

    def __init__(self, repository: SqlRecordingRepository) -> None:
        self.repository = repository

    async def version(self, recording_id: str) -> datetime | None:
        return self.repository.version(recording_id)

    async def get(self, recording_id: str, *, segments: bool) -> Recording | None:
        return self.repository.get(recording_id, segments=segments)

    async def get_many(self, recording_ids: list[str]) -> list[Recording]:
        return self.repository.get_many(recording_ids)

    async def versions(
        self, *, limit: int, cursor: str | None = None, status: RecordingStatus | None = None
    ) -> VersionPage:
        return self.repository.versions(limit=limit, cursor=cursor, status=status)

    async def ping(self) -> None:
        self.repository.ping()

    async def close(self) -> None:
        pass


class AsyncReads:
    """PostgreSQL's: the repository's statements on small pools of async connections of the
    same database, each statement on its own (autocommit), as the repository reads."""

    def __init__(self, repository: SqlRecordingRepository) -> None:
        # Imported here: SQLAlchemy's asyncio layer adds ~50 ms to every process's start-up,
        # which SQLite's (the default) never needs.
        from sqlalchemy.ext.asyncio import create_async_engine

        # Connections are made on first use, on the event loop that awaits them.
        self._engine = create_async_engine(
            repository.engine.url,
            pool_size=_MISS_CONNECTIONS,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,  # autocommit: no transaction to end on return
        )
        ping_if_idle(self._engine.sync_engine)
        # Both pools reach the same server: one that finds it gone retires the other's
        # connections too, so a restart fails one read, not one per connection.
        self._hot = AsyncConnections(
            libpq_url(repository.engine), _CONNECTIONS, on_lost=self._engine.dispose
        )
        event.listen(self._engine.sync_engine, "handle_error", self._on_error)

    async def version(self, recording_id: str) -> datetime | None:
        rows = await self._hot.fetch(VERSION, {"id": recording_id})
        return as_utc(rows[0][0]) if rows else None

    async def get(self, recording_id: str, *, segments: bool) -> Recording | None:
        async with self._connection() as connection:
            return await connection.run_sync(read_one, recording_id, segments=segments)

    async def get_many(self, recording_ids: list[str]) -> list[Recording]:
        async with self._connection() as connection:
            return await connection.run_sync(read_many, recording_ids)

    async def versions(
        self, *, limit: int, cursor: str | None = None, status: RecordingStatus | None = None
    ) -> VersionPage:
        query, params = versions_query(limit=limit, cursor=cursor, status=status)
        rows = await self._hot.fetch(query, params)
        return version_page([_Version(i, as_utc(c), as_utc(u)) for i, c, u in rows], limit)

    async def ping(self) -> None:
        await self._hot.fetch(PING, {})

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        # Closed here, not by `async with engine.connect()`: that closes in a task of its own
        # (shielded from cancellation), one more turn of a busy event loop per read (A/B, two
        # rounds, 1000 listeners and the short-upload stream: database reads' busy p95 34-43
        # and 73-92 -> 19-21 and 30-32 ms). A return to this pool does no I/O (autocommit, no
        # reset), so a cancellation cannot cut it short.
        connection = await self._engine.connect()
        try:
            yield connection
        finally:
            await connection.close()

    def _on_error(self, context: ExceptionContext) -> None:
        if context.is_disconnect:
            self._hot.lost()

    async def close(self) -> None:
        await self._hot.close()
        await self._engine.dispose()


class _Version(NamedTuple):
    """A row of a page of versions, as `version_page` reads it."""

    id: str
    created_at: datetime
    updated_at: datetime
