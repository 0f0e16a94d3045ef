"""Serving stored files with Range support (HTTP 206), errors as JSON like the rest of the API.

Ranges follow RFC 9110 section 14 (`parse_ranges`): a range set is satisfiable when any of its
ranges is (the others are dropped), a Range in another unit than bytes is ignored (whole file,
200), empty list elements are ignored; the one stricter rule is that a malformed bytes range is
refused (400) rather than ignored. If-Range and the multipart body for several ranges are done
here too, with Starlette's public API only: its FileResponse's range internals changed between
releases (0.49.1's multipart writer rewrote a shared header list, so the next plain GET of the
file was sent with the multipart's length).

The bytes are read differently from Starlette, which reads every chunk in a worker thread: here
each chunk is first read on the event loop with `preadv(RWF_NOWAIT)`, which succeeds only from
the page cache and never waits for the disk; only what must come from the disk is read in a
thread (nginx does the same with its thread pools).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import threading
from functools import lru_cache

from anyio import to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from audiodas.api import refusals
from audiodas.api.errors import error_response

_OTHER_UNIT = re.compile(r"^\s*(?!bytes\s*=)[A-Za-z][A-Za-z0-9_-]*\s*=")
_RANGE = re.compile(r"^(\d+)-(\d*)$|^-(\d+)$")
MAX_RANGES = 100  # more than this in one header: served whole (no range-merging work)
CHUNK = 1 << 20


class MalformedRange(ValueError):
    pass


class RangeNotSatisfiable(ValueError):
    pass


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """[(start, end)) byte ranges to send, sorted and merged; [] for the whole file.
    Raises MalformedRange or RangeNotSatisfiable."""
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        raise MalformedRange("the range unit must be bytes")
    elements = [spec.strip() for spec in specs.split(",")]
    elements = [spec for spec in elements if spec]  # RFC 9110 5.6.1: empty elements are ignored
    if not elements:
        raise MalformedRange("no range in the header")
    if len(elements) > MAX_RANGES:
        return []
    ranges = []
    for spec in elements:
        match = _RANGE.match(spec)
        if match is None:
            raise MalformedRange(f"'{spec}' is not a byte range")
        first, last, suffix = match.groups()
        if suffix is not None:
            if int(suffix) > 0 and size > 0:
                ranges.append((max(0, size - int(suffix)), size))
        elif last and int(last) < int(first):
            raise MalformedRange(f"'{spec}' ends before it starts")
        elif int(first) < size:
            ranges.append((int(first), min(int(last) + 1, size) if last else size))
    if not ranges:
        raise RangeNotSatisfiable(f"nothing of the {size} bytes is in the range")
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class RangeFileResponse(Response):
    """A file of the store, from its path and stat (the route has both already)."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        media_type: str,
        filename: str,
        stat_result: os.stat_result,
    ) -> None:
        super().__init__(media_type=media_type)
        self.path, self.size = path, stat_result.st_size
        # A copy: the cached list is shared by every answer about this version of the file.
        self.raw_headers = list(_headers(media_type, filename, stat_result.st_mtime, self.size))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = self.size
        head = scope["method"] == "HEAD"
        asked = Headers(scope=scope)
        http_range = asked.get("range")
        ranges: list[tuple[int, int]] = []
        if (
            http_range is not None
            and not _OTHER_UNIT.match(http_range.lower())
            and self._if_range_holds(asked.get("if-range"))
        ):
            try:
                ranges = parse_ranges(http_range, size)
            except MalformedRange as exc:
                response = error_response(400, refusals.BAD_RANGE, f"malformed Range header: {exc}")
                return await response(scope, receive, send)
            except RangeNotSatisfiable:
                return await _not_satisfiable(size)(scope, receive, send)
        if len(ranges) > 1:  # rare (players ask for one range)
            return await self._send_parts(ranges, head, receive, send)
        start, end = ranges[0] if ranges else (0, size)
        headers = MutableHeaders(raw=self.raw_headers)
        if ranges:
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
        status = 206 if ranges else 200
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        if head or start == end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await _send_file(self.path, start, end, receive, send)

    def _if_range_holds(self, if_range: str | None) -> bool:
        """RFC 9110 13.1.5: the range applies only to the version the client already has (a
        strong ETag or the exact Last-Modified); otherwise the whole file is sent."""
        if if_range is None:
            return True
        mine = Headers(raw=self.raw_headers)
        return not if_range.startswith("W/") and if_range in (
            mine.get("etag"),
            mine.get("last-modified"),
        )

    async def _send_parts(
        self, ranges: list[tuple[int, int]], head: bool, receive: Receive, send: Send
    ) -> None:
        """multipart/byteranges (RFC 9110 14.6): each part its own Content-Range."""
        boundary = secrets.token_hex(13)
        kind, size = self.media_type, self.size
        heads = [
            f"--{boundary}\r\nContent-Type: {kind}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n".encode("latin-1")
            for start, end in ranges
        ]
        closing = f"--{boundary}--\r\n".encode("latin-1")
        length = sum(len(h) + (e - s) + 2 for h, (s, e) in zip(heads, ranges, strict=True))
        headers = MutableHeaders(raw=self.raw_headers)
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(length + len(closing))
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        for part_head, (start, end) in zip(heads, ranges, strict=True):
            await send({"type": "http.response.body", "body": part_head, "more_body": True})
            await _send_file(self.path, start, end, receive, send, more_body=True)
            await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
        await send({"type": "http.response.body", "body": closing, "more_body": False})


async def _send_file(
    path: str | os.PathLike,
    start: int,
    end: int,
    receive: Receive,
    send: Send,
    more_body: bool = False,
) -> None:
    """The file's bytes [start, end); its last message says `more_body` (a part of several)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    # A long body stops when the client goes (uvicorn's send then does nothing); a short one
    # is not worth a watcher task.
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch(receive, gone)) if end - start > CHUNK else None
    try:
        position = start
        while position < end and not gone.is_set():
            data = await read_chunk(fd, position, min(CHUNK, end - position))
            if not data:
                raise RuntimeError(f"{path} is shorter than expected")
            position += len(data)
            more = position < end or more_body
            await send({"type": "http.response.body", "body": data, "more_body": more})
    finally:
        os.close(fd)
        if watcher is not None:
            watcher.cancel()


async def read_chunk(fd: int, position: int, size: int) -> bytes:
    """Up to `size` bytes at `position`: from the page cache without blocking the event loop
    when they are there, else from the disk in a worker thread."""
    buffer = _scratch()[:size]
    try:
        got = os.preadv(fd, [buffer], position, os.RWF_NOWAIT)
    except (BlockingIOError, OSError):  # not cached (EAGAIN), or a kernel without RWF_NOWAIT
        got = 0
    if got:
        return bytes(buffer[:got])
    return await to_thread.run_sync(os.pread, fd, size, position)


_loops = threading.local()


def _scratch() -> memoryview:
    """This thread's read buffer, reused: bytes are copied out of it at once, before anything
    else runs on the loop. A fresh buffer per read (zeroed, often fresh pages) cost about as
    much as the copy (py-spy: a tenth of the HTTP process's CPU was the Range reads)."""
    buffer = getattr(_loops, "buffer", None)
    if buffer is None:
        buffer = _loops.buffer = memoryview(bytearray(CHUNK))
    return buffer


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()


@lru_cache(maxsize=4096)
def _headers(
    media_type: str, filename: str, mtime: float, size: int
) -> tuple[tuple[bytes, bytes], ...]:
    """Starlette's headers for a file (type, disposition, length, ETag, Last-Modified), made
    once per version of a file rather than on every Range request (an md5 and a date each)."""
    stat_result = os.stat_result((0, 0, 0, 0, 0, 0, size, 0, int(mtime), 0, None, mtime, None))
    response = FileResponse(
        "unused",
        media_type=media_type,
        filename=filename,
        stat_result=stat_result,
        content_disposition_type="inline",
    )
    return tuple(response.raw_headers)  # immutable: answers copy it


def content_disposition(filename: str) -> str:
    """The Content-Disposition the API sends for a file of this name (for a store that serves
    the file itself, to send the same)."""
    headers = dict(_headers("application/octet-stream", filename, 0.0, 0))
    return headers[b"content-disposition"].decode("latin-1")


def _not_satisfiable(size: int) -> Response:
    return error_response(
        416,
        refusals.RANGE_NOT_SATISFIABLE,
        f"the range starts past the end of the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}"},
    )
