"""EventBus for the processes of one machine: Unix datagram sockets in the run folder.

Each process that listens binds its own socket under `bus/`; `publish` sends one datagram to
every socket there. Datagrams are never split or reordered; one that finds its receiver's
buffer full is dropped (listeners re-read the database on a slow timer), and a socket whose
process has died is removed by the first publisher that finds it refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from audiodas.adapters.listeners import Listeners

log = logging.getLogger("audiodas.bus")

_MAX_DATAGRAM = 64 << 10


class LocalBus:
    def __init__(self, run_path: Path) -> None:
        self.folder = run_path / "bus"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._receiver: socket.socket | None = None
        self._address: Path | None = None
        self._listeners = Listeners()
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, event: dict) -> None:
        data = json.dumps(event, separators=(",", ":")).encode()
        for entry in os.scandir(self.folder):
            try:
                self._sender.sendto(data, entry.path)
            except BlockingIOError:
                log.debug("event dropped: %s has a full buffer", entry.name)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)  # its process is gone
            except OSError as exc:
                log.debug("event not sent to %s: %s", entry.name, exc)

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    async def start(self) -> None:
        """Bind this process's socket and deliver what arrives to the listeners."""
        self._loop = asyncio.get_running_loop()
        self._address = self.folder / uuid.uuid4().hex[:12]
        self._receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._receiver.setblocking(False)
        self._receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._receiver.bind(str(self._address))
        self._loop.add_reader(self._receiver.fileno(), self._receive)

    def _receive(self) -> None:
        assert self._receiver is not None
        while True:
            try:
                data = self._receiver.recv(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            self._listeners.deliver(json.loads(data))

    async def close(self) -> None:
        if self._receiver is not None and self._loop is not None:
            self._loop.remove_reader(self._receiver.fileno())
            self._receiver.close()
            self._receiver = None
        if self._address is not None:
            self._address.unlink(missing_ok=True)
        self._sender.close()
