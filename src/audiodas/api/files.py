"""Serving stored files with Range support (HTTP 206), errors as JSON like the rest of the API."""

from __future__ import annotations

import os
import re

import anyio
from starlette.datastructures import Headers
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)
from starlette.types import Receive, Scope, Send

from audiodas.api.errors import error_response
from audiodas.domain import Rejected

_OTHER_UNIT = re.compile(r"^\s*(?!bytes\s*=)[A-Za-z][A-Za-z0-9_-]*\s*=")


class RangeFileResponse(FileResponse):
    """Starlette's FileResponse (single and multiple ranges, If-Range, ETag, Last-Modified),
    with two changes: a Range in another unit than bytes is ignored as RFC 9110 says (whole
    file, 200) rather than refused, and a malformed or unsatisfiable range gets a JSON body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stat_result is None:
            self.stat_result = await anyio.to_thread.run_sync(os.stat, self.path)
            self.set_stat_headers(self.stat_result)
        headers = Headers(scope=scope)
        http_range = headers.get("range")
        if http_range is not None:
            if _OTHER_UNIT.match(http_range.lower()):
                scope = _without_range(scope)
            elif headers.get("if-range") is None or self._should_use_range(headers["if-range"]):
                error = self._range_error(http_range, self.stat_result.st_size)
                if error is not None:
                    return await error(scope, receive, send)
        await super().__call__(scope, receive, send)

    def _range_error(self, http_range: str, size: int) -> Response | None:
        try:
            self._parse_range_header(http_range, size)
        except MalformedRangeHeader as exc:
            return error_response(400, Rejected.BAD_RANGE, f"malformed Range header: {exc.content}")
        except RangeNotSatisfiable:
            return error_response(
                416,
                Rejected.RANGE_NOT_SATISFIABLE,
                f"the range starts past the end of the file ({size} bytes)",
                headers={"Content-Range": f"bytes */{size}"},
            )
        return None


def _without_range(scope: Scope) -> Scope:
    return {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
