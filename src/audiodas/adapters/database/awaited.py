"""The API's awaited reads (services.ports.AwaitedReads): a recording's version, a page of
versions, the recordings a cached rendering lacks, the health ping.

On SQLite a read is a call into this process's own library, cheaper than any hand-off
(profiled: thread hand-offs were the API's largest CPU share), so it runs as it is, the hottest
ones (a version, a page of versions, the ping) on sqlite3 alone (`connections.py`). On
PostgreSQL it is a round trip to a server process that needs a core of its own to answer: with
the engine keeping both cores busy, an HTTP process's event loop spent ~45 % of its time blocked
in these round trips (py-spy, 1000 listeners and a short upload a second), and every request
on it waited. Here they are awaited on psycopg's async connections, so the loop serves other
requests meanwhile. (Worker threads were tried: the GIL hand-offs made idle reads twice as slow.)
They go through psycopg alone (`connections.py`), a whole recording in one statement
(`repository.WHOLE`).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from audiodas.adapters.database.connect import libpq_url
from audiodas.adapters.database.connections import AsyncConnections, SqliteConnection, sqlite_time
from audiodas.adapters.database.repository import (
    PING,
    VERSION,
    WHOLE,
    WHOLE_LISTED,
    SqlRecordingRepository,
    assembled,
    versions_query,
)
from audiodas.adapters.database.tables import as_utc
from audiodas.adapters.failures import at_the_edge
from audiodas.domain import Order, Recording, RecordingStatus, VersionPage
from audiodas.services.ports import AwaitedReads

# Per HTTP process, all kept open: overflow connections closed after each burst cost a
# PostgreSQL backend's start-up each time (measured: idle p95 of all requests 7 -> 43 ms). At
# 1000 users a process has about four reads in flight under load; more wait their turn.
_CONNECTIONS = 8


def awaited_reads(repository: SqlRecordingRepository) -> AwaitedReads:
    if repository.engine.dialect.name == "sqlite":
        return SqliteReads(repository)
    return AsyncReads(repository)


@at_the_edge
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
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        return self.repository.versions(limit=limit, cursor=cursor, status=status, order=order)

    async def ping(self) -> None:
        self.repository.ping()

    async def close(self) -> None:
        pass


@at_the_edge
class SqliteReads(InProcessReads):
    """SQLite's: the repository's reads, the hottest on a sqlite3 connection of their own."""

    def __init__(self, repository: SqlRecordingRepository) -> None:
        super().__init__(repository)
        database = repository.engine.url.database
        assert database, "an SQLite database in a file"
        self._db = SqliteConnection(database)

    async def version(self, recording_id: str) -> datetime | None:
        rows = self._db.fetch(VERSION, {"id": recording_id})
        return sqlite_time(rows[0][0]) if rows else None

    async def versions(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        query = versions_query(limit=limit, cursor=cursor, status=status, order=order)
        rows = self._db.fetch(query.statement, query.params)
        return query.page([_Version(i, sqlite_time(c), sqlite_time(u)) for i, c, u in rows])

    async def ping(self) -> None:
        self._db.fetch(PING, {})

    async def close(self) -> None:
        self._db.close()


@at_the_edge
class AsyncReads:
    """PostgreSQL's: the repository's statements on a small pool of psycopg's async
    connections, each statement on its own (autocommit), as the repository reads."""

    def __init__(self, repository: SqlRecordingRepository) -> None:
        self._connections = AsyncConnections(libpq_url(repository.engine), _CONNECTIONS)

    async def version(self, recording_id: str) -> datetime | None:
        rows = await self._connections.fetch(VERSION, {"id": recording_id})
        return as_utc(rows[0][0]) if rows else None

    async def get(self, recording_id: str, *, segments: bool) -> Recording | None:
        rows = await self._connections.fetch(WHOLE[segments], {"ids": [recording_id]})
        return assembled(rows)[0] if rows else None

    async def get_many(self, recording_ids: list[str]) -> list[Recording]:
        return assembled(await self._connections.fetch(WHOLE_LISTED, {"ids": recording_ids}))

    async def versions(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        query = versions_query(limit=limit, cursor=cursor, status=status, order=order)
        rows = await self._connections.fetch(query.statement, query.params)
        return query.page([_Version(i, as_utc(c), as_utc(u)) for i, c, u in rows])

    async def ping(self) -> None:
        await self._connections.fetch(PING, {})

    async def close(self) -> None:
        await self._connections.close()


class _Version(NamedTuple):
    """A row of a page of versions, as `PageQuery.page` reads it."""

    id: str
    created_at: datetime
    updated_at: datetime
