"""psycopg's own async connections for the API's hottest reads on PostgreSQL, kept open.

SQLAlchemy's asyncio layer runs each statement through a greenlet and its pool's events: per
read about twice the CPU of psycopg alone (0.17 against 0.08 ms measured), and the HTTP
processes' CPU is what the engine's work competes with. A/B, 1000 listeners and the
short-upload stream: the HTTP processes' CPU 0.52-0.54 -> 0.41-0.44 cores idle, 0.65-0.66 ->
0.52-0.55 busy. Errors leave as SQLAlchemy's, the types the rest of the product recognises
(`adapters/failures.py`: a database out of reach answers 503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import exc
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
