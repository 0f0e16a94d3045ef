"""Receiving a multipart upload as a stream: the file part goes to disk in chunks as it
arrives (never whole in memory) and reading stops as soon as it passes the size limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from anyio import to_thread
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from audiodas.adapters.storage import FileStore, StagedFile
from audiodas.domain import Rejected

FILE_FIELD = "file"
_FLUSH_BYTES = 1 << 20  # hand the disk at most this much at a time (from a worker thread)
_MAX_FIELD_BYTES = 4096  # text fields are short (e.g. domain)
_FORM_OVERHEAD = 64 << 10  # headers and boundaries around the file in a multipart body


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
    file: StagedFile | None = None
    filename: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else default


async def receive_form(request: Request, store: FileStore, max_bytes: int) -> ReceivedForm:
    """Parse the body; the caller owns (and must discard or keep) `form.file`."""
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

    receiver = _Receiver(store, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.file is not None and len(receiver.pending) >= _FLUSH_BYTES:
                await receiver.flush()
        parser.finalize()
        await receiver.flush()
    except BaseException:
        if receiver.file is not None:
            receiver.file.discard()
        raise
    if receiver.file is None:
        raise Rejected(Rejected.MISSING_FILE, f"no '{FILE_FIELD}' field with a file in the form")
    return ReceivedForm(receiver.fields, receiver.file, receiver.filename)


class _Receiver:
    """Collects the parser's callbacks; file bytes wait in `pending` until flushed to disk."""

    def __init__(self, store: FileStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.fields: dict[str, list[str]] = {}
        self.file: StagedFile | None = None
        self.filename = ""
        self.pending = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None  # "file", a field name, or None to skip the part
        self._field = bytearray()

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
        if self.file is None or not self.pending:
            return
        data, self.pending = bytes(self.pending), bytearray()
        await to_thread.run_sync(self.file.write, data)

    def _part_begin(self) -> None:
        self._headers = {}
        self._target = None
        self._field = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == FILE_FIELD and filename is not None and self.file is None:
            self.file = self.store.stage(self.max_bytes)
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
                raise Rejected(Rejected.INVALID_FIELD, f"form field '{self._target}' is too long")

    def _part_end(self) -> None:
        if self._target not in (None, FILE_FIELD):
            value = self._field.decode("utf-8", "replace")
            self.fields.setdefault(self._target, []).append(value)
        self._target = None
