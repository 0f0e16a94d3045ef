"""Messages between processes: a 4-byte big-endian length, then UTF-8 JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import struct

_HEADER = struct.Struct("!I")


def encode(message: dict) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(data)) + data


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(encode(message))


def receive(sock: socket.socket) -> dict:
    """Blocking; raises EOFError when the other side has gone."""
    (size,) = _HEADER.unpack(_receive_exactly(sock, _HEADER.size))
    return json.loads(_receive_exactly(sock, size))


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


async def write(writer: asyncio.StreamWriter, message: dict) -> None:
    writer.write(encode(message))
    await writer.drain()


async def read(reader: asyncio.StreamReader) -> dict:
    """Raises EOFError when the other side has gone."""
    try:
        (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        return json.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        raise EOFError from exc
