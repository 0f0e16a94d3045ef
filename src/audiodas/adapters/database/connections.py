"""The drivers' own connections for the API's hottest reads, kept open: psycopg's async ones on
PostgreSQL, one sqlite3 connection on SQLite.

SQLAlchemy's asyncio layer runs each statement through a greenlet and its pool's events: per
read about twice the CPU of psycopg alone (0.17 against 0.08 ms measured), and the HTTP
processes' CPU is what the engine's work competes with. A/B, 1000 listeners and the
short-upload stream: the HTTP processes' CPU 0.52-0.54 -> 0.41-0.44 cores idle, 0.65-0.66 ->
0.52-0.55 busy. On SQLite, SQLAlchemy's Core spent about twice the query's own time around it
(a Connection, its events, the result's processing; py-spy: a read of one version was 47 % of
the CPU of reading a cached recording); sqlite3 prepares each statement once and keeps it.
Errors leave as SQLAlchemy's, the types the rest of the product recognises
(`adapters/failures.py`: a database out of reach answers 503).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import exc
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect
from sqlalchemy.sql import ClauseElement

from audiodas.adapters.database import connect

_WAIT_S = 30.0  # for a free connection, as SQLAlchemy's pool waits (then 503)


class AsyncConnections:
    """At most `size` connections, opened on first use and kept (each start of a PostgreSQL
    backend costs it more than many reads), each statement on its own (autocommit). One that
    sat unused past the engine's ping age is pinged first, as the engine's pool does.

    One found cut by its server (a restart, a failover) fails its read; the others opened
    before it went the same way and are not used again, as SQLAlchemy's pool does: one read
    fails, not one per connection."""

    def __init__(self, conninfo: str, size: int) -> None:
        self.conninfo = conninfo
        # Free connections, each with when it was given back and the generation it opened in.
        self._free: list[tuple[psycopg.AsyncConnection, float, int]] = []
        self._generation = 0
        self._slots = asyncio.Semaphore(size)

    async def fetch(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
        """The statement's rows as named tuples, with psycopg's types (no SQLAlchemy result
        processing: times in the session's zone, JSON parsed)."""
        sql = _compiled(statement)
        await self._slot()
        try:
            connection, generation = await self._take()
            try:
                rows = await (await connection.execute(sql, params)).fetchall()
            except BaseException:
                broken = connection.broken
                # A failed or cancelled statement may leave the connection mid-answer: never
                # hand it on.
                await connection.close()
                if broken and generation == self._generation:
                    self._generation += 1  # every connection opened until now
                raise
            self._free.append((connection, time.monotonic(), generation))
            return rows
        except psycopg.Error as error:
            raise exc.DBAPIError.instance(sql, params, error, psycopg.Error) from error
        finally:
            self._slots.release()

    async def _slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # at once: no timer (one per read was 1 % of the CPU)
            return
        try:
            async with asyncio.timeout(_WAIT_S):
                await self._slots.acquire()
        except TimeoutError:
            raise exc.TimeoutError(f"no free connection in {_WAIT_S:.0f} s") from None

    async def close(self) -> None:
        while self._free:
            await self._free.pop()[0].close()

    async def _take(self) -> tuple[psycopg.AsyncConnection, int]:
        while self._free:
            connection, since, generation = self._free.pop()
            if connection.closed:
                continue
            if generation != self._generation:
                await connection.close()
                continue
            if time.monotonic() - since < connect.PING_AFTER_S:
                return connection, generation
            try:
                await connection.execute("SELECT 1")
                return connection, generation
            except psycopg.Error:
                await connection.close()  # gone with its server: open another
        generation = self._generation
        connection = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, row_factory=namedtuple_row
        )
        return connection, generation


@cache
def _compiled(statement: ClauseElement) -> str:
    """The repository's statement as PostgreSQL's SQL, with psycopg's `%(name)s` parameters."""
    return str(statement.compile(dialect=pg_dialect.dialect()))


class SqliteConnection:
    """One sqlite3 connection of this process, for reads on the event loop (each statement on
    its own: no read transaction is held open between them, so checkpoints are not held back)."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA query_only=ON")

    def fetch(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
        """The statement's rows as tuples of SQLite's values (times as their stored text)."""
        sql, defaults = _sqlite_compiled(statement)
        values = {**defaults, **{k: _sqlite_value(v) for k, v in params.items()}}
        try:
            return self._db.execute(sql, values).fetchall()
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(sql, params, error, sqlite3.Error) from error

    def close(self) -> None:
        self._db.close()


@lru_cache(maxsize=20_000)
def sqlite_time(text: str) -> datetime:
    """A time as SQLAlchemy stores it in SQLite (UTC, no zone), as the repository reads it.
    Remembered: a page of 50 versions has 100 of them, mostly the same from one read to the
    next (parsing them was a tenth of the list's CPU)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):  # as SQLAlchemy stores it: UTC, always with microseconds
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@cache
def _sqlite_compiled(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """The statement as SQLite's SQL with `:name` parameters, and the values it binds itself
    (SQLite's LIMIT comes with an OFFSET of 0)."""
    compiled = statement.compile(dialect=sqlite_dialect.dialect(paramstyle="named"))
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}
