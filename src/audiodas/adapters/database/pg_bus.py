"""EventBus for many machines: PostgreSQL's LISTEN/NOTIFY on one channel.

Each process holds one connection in LISTEN and delivers what arrives on its event loop.
`publish` hands the event to a sender thread that NOTIFYs it on a connection of its own, so a
publisher never waits for the network. Best effort, like every EventBus: an event sent while
a listener reconnects is lost, and listeners re-read the database on a slow timer. PostgreSQL
caps a payload at 8000 bytes; events (a stage, a status) are far smaller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable

import psycopg

from audiodas.adapters.failures import describe
from audiodas.adapters.listeners import Listeners

log = logging.getLogger("audiodas.bus")

CHANNEL = "audiodas_events"
_MAX_PAYLOAD = 7999
_RECONNECT_S = 1.0


class PostgresBus:
    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._listeners = Listeners()
        self._outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._sender_lock = threading.Lock()
        self._listening: asyncio.Task | None = None

    def publish(self, event: dict) -> None:
        payload = json.dumps(event, separators=(",", ":"))
        if len(payload.encode()) > _MAX_PAYLOAD:
            log.warning("event of %d bytes is too large for NOTIFY: dropped", len(payload))
            return
        with self._sender_lock:
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_forever, name="audiodas-bus-sender", daemon=True
                )
                self._sender.start()
        self._outbox.put(payload)

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    async def start(self) -> None:
        """LISTEN before returning: every event published after start() is delivered."""
        connection = await self._listen()
        self._listening = asyncio.create_task(
            self._receive_forever(connection), name="audiodas-bus-listener"
        )

    async def close(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)
        if self._sender is not None:
            self._outbox.put(None)
            await asyncio.to_thread(self._sender.join, 5)

    async def _listen(self) -> psycopg.AsyncConnection:
        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        await connection.execute(f"LISTEN {CHANNEL}")
        return connection

    async def _receive_forever(self, connection: psycopg.AsyncConnection) -> None:
        try:
            while True:
                try:
                    async for notify in connection.notifies():
                        self._listeners.deliver(json.loads(notify.payload))
                except psycopg.Error as exc:
                    log.warning("event bus lost PostgreSQL (%s); listening again", describe(exc))
                await connection.close()
                connection = await self._listen_again()
        finally:
            await connection.close()

    async def _listen_again(self) -> psycopg.AsyncConnection:
        while True:
            await asyncio.sleep(_RECONNECT_S)
            with contextlib.suppress(psycopg.Error):
                return await self._listen()

    def _send_forever(self) -> None:
        connection: psycopg.Connection | None = None
        while (payload := self._outbox.get()) is not None:
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except psycopg.Error as exc:
                log.debug("event not sent: %s", describe(exc))  # listeners catch up later
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()
