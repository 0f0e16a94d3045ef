"""Every request body is bounded before it is read. Only the routes that take audio may send a
large one (their own limit applies as they stream it); any other body may have at most
JSON_MAX bytes: a larger `Content-Length` is answered 413 at once, unread, and a body that
grows past the bound unannounced (chunked) is cut off there. Routes that take a body read it
themselves, after access is decided (api/access.py), so a caller without a key sends nothing
that is read.
"""

from __future__ import annotations

import orjson
from fastapi import Request
from starlette.types import Message, Receive, Scope

from audiodas.api import refusals
from audiodas.domain import Rejected

JSON_MAX = 64 << 10
# The routes whose bodies are audio, streamed and bounded by AUDIODAS_MAX_UPLOAD_BYTES.
AUDIO = {
    ("POST", "/api/v1/recordings"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/audio/translations"),
}


def too_large() -> Rejected:
    return Rejected(refusals.BODY_TOO_LARGE, f"a request body here may have {JSON_MAX} bytes")


def refusal(scope: Scope) -> Rejected | None:
    """A body announced larger than it may be, refused before a byte of it is read."""
    if (scope["method"], scope["path"]) in AUDIO:
        return None
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > JSON_MAX):
            return too_large()
    return None


def bounded(scope: Scope, receive: Receive) -> Receive:
    """`receive`, cut off once a body that may not be large grows past the bound."""
    if scope["method"] in ("GET", "HEAD") or (scope["method"], scope["path"]) in AUDIO:
        return receive
    read = 0

    async def receive_bounded() -> Message:
        nonlocal read
        message = await receive()
        read += len(message.get("body", b""))
        if read > JSON_MAX:
            raise too_large()
        return message

    return receive_bounded


async def json_body(request: Request) -> object:
    """The request's JSON body, read now (after access was decided), bounded as above."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Rejected(refusals.MALFORMED_BODY, f"the body is not JSON: {exc}") from None
