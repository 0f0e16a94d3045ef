"""The internals of pinned dependencies the package builds on. A release that moves one of them
fails here, before anything ships with it: raise the bound in pyproject.toml only with this green.

uvicorn: api/head_limits.py subclasses its `HttpToolsProtocol` and hooks four of its methods.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from audiodas.api.head_limits import MAX_LINE, BoundedHttpToolsProtocol

HOOKS = {
    "connection_made": ["self", "transport"],
    "data_received": ["self", "data"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
}


@pytest.mark.parametrize("name", HOOKS)
def test_uvicorn_still_calls_the_hooks_the_bounded_protocol_overrides(name: str) -> None:
    hook = HttpToolsProtocol.__dict__.get(name)  # defined by uvicorn's class itself
    assert hook is not None, f"uvicorn's HttpToolsProtocol no longer defines {name}"
    assert list(inspect.signature(hook).parameters) == HOOKS[name]


class Transport(asyncio.Transport):
    """What the protocol writes and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written, self.closed = b"", False

    def get_extra_info(self, name: str, default=None):  # type: ignore[no-untyped-def]
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def hello(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def exchange(request: bytes) -> Transport:
    config = Config(hello, http=BoundedHttpToolsProtocol, log_level="error")
    protocol = BoundedHttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.sleep(0.05)  # the request's task answers
    protocol.connection_lost(None)
    return transport


def test_the_bounded_protocol_serves_a_request_and_refuses_a_long_head() -> None:
    head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: %s\r\n\r\n"
    fine = asyncio.run(exchange(head % (b"a" * (MAX_LINE - 100))))
    assert fine.written.startswith(b"HTTP/1.1 200 OK") and b"hello" in fine.written
    refused = asyncio.run(exchange(head % (b"a" * (MAX_LINE + 1))))
    assert refused.written.startswith(b"HTTP/1.1 431 ") and refused.closed
    assert b'"error":"headers_too_large"' in refused.written
