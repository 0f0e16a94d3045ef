"""Bounded request heads for uvicorn's httptools protocol.

httptools (llhttp) sets no limit on the request line or headers: its Python side keeps a header
growing for as long as a client sends it, so ten connections each sending a 50 MiB header line
cost the HTTP processes 600 MiB. This protocol counts the bytes of each request head before
they reach the parser and answers `431` with the project's JSON error as soon as a line passes
MAX_LINE or the head passes MAX_HEAD, then closes the connection (its buffers go with it).
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_LINE = 16 << 10  # the request line or one header
MAX_HEAD = 64 << 10  # all of them

_END = b"\r\n\r\n"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True  # the next bytes start a request head
        self._head_bytes = 0
        self._line_bytes = 0
        self._tail = b""  # the head's last bytes, for an end split across reads

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():  # refused: what is still arriving goes nowhere
            return
        if self._in_head and self._head_too_large(data):
            self._refuse()
            return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._line_bytes, self._tail = True, 0, 0, b""

    def _head_too_large(self, data: bytes) -> bool:
        """Counts the part of `data` up to the end of the head (a pipelined request after it
        is at most one read, which asyncio bounds)."""
        end = (self._tail + data).find(_END)
        head = data if end < 0 else data[: max(0, end + len(_END) - len(self._tail))]
        self._head_bytes += len(head)
        last_break = head.rfind(b"\n")
        if last_break < 0:
            self._line_bytes += len(head)
        else:
            first_break = head.find(b"\n")
            longest = max(self._line_bytes + first_break, _longest_line(head, first_break))
            if longest > MAX_LINE:
                return True
            self._line_bytes = len(head) - last_break - 1
        self._tail = (self._tail + head)[-3:]
        return self._head_bytes > MAX_HEAD or self._line_bytes > MAX_LINE

    def _refuse(self) -> None:
        self.logger.info("request head over %d KiB refused (431)", MAX_HEAD >> 10)
        body = orjson.dumps(
            {
                "error": "headers_too_large",
                "detail": f"the request line and each header may have {MAX_LINE >> 10} KiB, "
                f"the head {MAX_HEAD >> 10} KiB in all",
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def _longest_line(head: bytes, first_break: int) -> int:
    """The longest whole line in `head` after its first line break."""
    longest, start = 0, first_break + 1
    while (stop := head.find(b"\n", start)) >= 0:
        longest = max(longest, stop - start)
        start = stop + 1
    return longest
