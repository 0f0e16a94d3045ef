"""Receiving a multipart upload as a stream: the file part goes to disk in chunks as it
arrives (never whole in memory) and reading stops as soon as it passes the size limit.

The file's last bytes (under 1 MiB: all of a short clip) are written by the worker thread the
caller hands the file to next (`ReceivedForm.written`), not by a thread hop of their own: each
hop waits for a turn of an event loop that may be busy (measured under 1000 users: 3 ms at the
median, 13-22 ms at p90).

A hostile or broken body is refused with 400 (malformed, too many parts, headers too big, two
files), a body that stalls with 408; either way the temp file is removed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from anyio import to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from audiodas.api import refusals
from audiodas.config import Settings
from audiodas.domain import Rejected, quoted
from audiodas.services.ports import BlobStore, StagedBlob

FILE_FIELD = "file"
_FLUSH_BYTES = 1 << 20  # hand the disk at most this much at a time (from a worker thread)
_MAX_FIELD_BYTES = 4096  # text fields are short (e.g. domain)
_FORM_OVERHEAD = 64 << 10  # headers and boundaries around the file in a multipart body
_MAX_PARTS = 32  # a file and a few fields; more is an attack on the parser
_MAX_PART_HEADER_BYTES = 16 << 10  # room for a long filename, not for a flood


def multipart_openapi(**fields: dict) -> dict:
    """`openapi_extra` describing a multipart body with a `file` part plus `fields` (the body is
    parsed by receive_form, so FastAPI cannot infer it)."""
    properties = {FILE_FIELD: {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": [FILE_FIELD], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


@dataclass
class ReceivedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)  # every value, in order
    file: StagedBlob | None = None
    filename: str = ""
    rest: bytearray = field(default_factory=bytearray)  # the file's bytes not written yet

    def written(self) -> StagedBlob:
        """The file, with its last bytes written: call it in the worker thread that goes on to
        close and probe it. Blocking; on failure (over the limit, disk full) discards the file."""
        assert self.file is not None
        try:
            self.file.write(self.rest)
        except BaseException:
            self.file.discard()
            raise
        self.rest = bytearray()
        return self.file

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else default


async def receive_form(
    request: Request, store: BlobStore, settings: Settings, *, to_keep: bool = False
) -> ReceivedForm:
    """Parse the body; the caller owns (and must discard or keep) `form.file`, whose last
    bytes `form.written()` writes. `to_keep`: the file is meant to become a recording."""
    max_bytes = settings.max_upload_bytes
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Rejected(
            Rejected.MISSING_FILE,
            f"send multipart/form-data with the audio in a '{FILE_FIELD}' field",
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _FORM_OVERHEAD:
        # Refuse before reading a byte.
        raise Rejected(
            Rejected.TOO_LARGE, f"file is larger than the limit of {max_bytes / 1048576:g} MiB"
        )

    receiver = _Receiver(store, max_bytes, to_keep)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in _body(request, settings.body_timeout_s):
            parser.write(chunk)
            if receiver.file is not None and len(receiver.pending) >= _FLUSH_BYTES:
                await receiver.flush()
        parser.finalize()
        if parser.state != MultipartState.END:
            raise _malformed("the body ended before the closing boundary")
    except BaseException as exc:
        if receiver.file is not None:
            receiver.file.discard()
        if isinstance(exc, MultipartParseError):
            raise _malformed(str(exc).rstrip(".")) from exc
        raise
    if receiver.file is None:
        raise Rejected(Rejected.MISSING_FILE, f"no '{FILE_FIELD}' field with a file in the form")
    return ReceivedForm(receiver.fields, receiver.file, receiver.filename, receiver.pending)


async def _body(request: Request, idle_timeout_s: float) -> AsyncIterator[bytes]:
    """The body's chunks; a client that sends nothing for `idle_timeout_s` is refused."""
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_timeout_s):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise Rejected(
                refusals.BODY_TIMEOUT, f"the body sent nothing for {idle_timeout_s:g} s"
            ) from None
        yield chunk


def _malformed(why: str) -> Rejected:
    return Rejected(refusals.MALFORMED_BODY, f"malformed multipart body: {why}")


class _Receiver:
    """Collects the parser's callbacks; file bytes wait in `pending` until flushed to disk."""

    def __init__(self, store: BlobStore, max_bytes: int, to_keep: bool) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.to_keep = to_keep
        self.fields: dict[str, list[str]] = {}
        self.file: StagedBlob | None = None
        self.filename = ""
        self.pending = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None  # "file", a field name, or None to skip the part
        self._field = bytearray()
        self._parts = 0
        self._header_bytes = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    async def flush(self) -> None:
        assert self.file is not None
        data, self.pending = self.pending, bytearray()  # handed over whole: no copy on the loop
        await to_thread.run_sync(self.file.write, data)

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise _malformed(f"more than {_MAX_PARTS} parts")
        self._headers = {}
        self._header_bytes = 0
        self._target = None
        self._field = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > _MAX_PART_HEADER_BYTES:
            raise _malformed(f"a part's headers exceed {_MAX_PART_HEADER_BYTES // 1024} KiB")

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == FILE_FIELD and filename is not None:
            if self.file is not None:
                raise _malformed(f"more than one '{FILE_FIELD}' part: send one file per upload")
            self.file = self.store.stage(self.max_bytes, to_keep=self.to_keep)
            self.filename = filename.decode("utf-8", "replace")
            self._target = FILE_FIELD
        elif filename is None and name and name != FILE_FIELD:
            self._target = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == FILE_FIELD:
            self.pending += data[start:end]
        elif self._target is not None:
            self._field += data[start:end]
            if len(self._field) > _MAX_FIELD_BYTES:
                raise Rejected(
                    Rejected.INVALID_FIELD, f"form field {quoted(self._target)} is too long"
                )

    def _part_end(self) -> None:
        if self._target not in (None, FILE_FIELD):
            value = self._field.decode("utf-8", "replace")
            self.fields.setdefault(self._target, []).append(value)
        self._target = None
