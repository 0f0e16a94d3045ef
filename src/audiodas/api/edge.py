"""The one ASGI layer around the application, which every request passes once.

On the way in: the browser guard (api/guard.py), then the body bound (api/body_limits.py).
On the way out, on every answer whoever made it: the guard's headers, OpenAI's error shape
on `/v1/` (api/openai_errors.py), the request's duration by route (metrics). Whatever escapes
the application is answered here (errors.failure_response): this is the error boundary.

One layer rather than five middlewares: each was a coroutine per request and a wrapped `send`
per message, and together with FastAPI's own outer three (its server-error, telemetry and
body-limit middlewares, whose jobs are done here) they were about a tenth of a request's CPU.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiodas.api import body_limits, errors, openai_errors
from audiodas.api.guard import BrowserGuard
from audiodas.config import Settings
from audiodas.domain import Rejected


class Edge:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.guard = BrowserGuard(settings)
        self._timers: dict[tuple[str, int], Histogram] = {}  # by route and status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            return await self._websocket(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        path = scope["path"]
        answer = _Answer(send, self.guard.headers(path), path.startswith(openai_errors.PREFIX))
        try:
            refusal = self.guard.refusal(scope) or body_limits.refusal(scope)
            if refusal is not None:
                await errors.rejected_response(refusal)(scope, receive, answer.send)
            else:
                await self.app(scope, body_limits.bounded(scope, receive), answer.send)
        except ClientDisconnect:
            response = errors.client_gone(scope)  # logged, whether or not it can be sent
            if not answer.started:
                await response(scope, receive, answer.send)
        except Exception as exc:
            response = errors.failure_response(exc, scope)
            if answer.started:
                raise  # too late to answer: the server closes the connection
            await response(scope, receive, answer.send)
        finally:
            self._observe(scope, answer.status, time.perf_counter() - started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The guard's Host and Origin checks, as for a write; a refusal is the JSON error as
        an HTTP answer to the handshake (uvicorn's denial response), or a close saying it."""
        refusal = self.guard.refusal(scope)
        if refusal is None:
            return await self.app(scope, receive, send)
        await deny(scope, receive, send, refusal)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        """By route template, not by raw path (which would explode the labels)."""
        metrics = getattr(getattr(scope.get("app"), "state", None), "metrics", None)
        if metrics is None:
            return
        key = (getattr(scope.get("route"), "path", "unmatched"), status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = metrics.http_duration.labels(key[0], str(status))
        timer.observe(seconds)


class _Answer:
    """The answer on its way out: what it adds, what it holds back, what it saw."""

    __slots__ = ("_send", "_headers", "_openai", "_held", "_body", "started", "status")

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]], openai: bool) -> None:
        self._send = send
        self._headers = headers
        self._openai = openai
        self._held: Message | None = None  # an error's start on /v1/, until its body is whole
        self._body = b""
        self.started = False
        self.status = 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), *self._headers]
            if self._openai and self.status >= 400:
                self._held = message  # an error: its body is small, rewritten once whole
                return
        elif self._held is not None:
            self._body += message.get("body", b"")
            if message.get("more_body"):
                return
            start, message = openai_errors.reshaped(self._held, self._body)
            await self._write(start)
        await self._write(message)

    async def _write(self, message: Message) -> None:
        try:
            await self._send(message)
        except RuntimeError as exc:
            if not errors.transport_closed(exc):
                raise
            raise ClientDisconnect() from exc


async def deny(scope: Scope, receive: Receive, send: Send, refusal: Rejected) -> None:
    """Refuse a WebSocket handshake: the HTTP status and JSON body of any refusal where the
    server can send one, else a close (1008, the refusal's detail as its reason)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await errors.rejected_response(refusal)(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": refusal.detail[:120]})
