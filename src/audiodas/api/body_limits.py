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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiodas.api import refusals
from audiodas.api.errors import rejected_response
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


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in AUDIO:
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > JSON_MAX):
                return await rejected_response(too_large())(scope, receive, send)
        read = 0

        async def bounded() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > JSON_MAX:
                raise too_large()
            return message

        await self.app(scope, receive if scope["method"] in ("GET", "HEAD") else bounded, send)


async def json_body(request: Request) -> object:
    """The request's JSON body, read now (after access was decided), bounded as above."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Rejected(refusals.MALFORMED_BODY, f"the body is not JSON: {exc}") from None
