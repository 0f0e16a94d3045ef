"""Errors on the OpenAI-compatible routes (`/v1/...`) in OpenAI's shape, so that its clients
show the reason: `{"error": {"message", "type", "param", "code"}}`. The API's own errors
(`{"error": code, "detail": text}`) are made once, everywhere; this edge rewrites them for
`/v1/` on their way out, whichever layer answered (the browser guard, the body bound, access,
a route, the error boundary). `/api/v1` keeps its own shape."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1/"


def openai_error(status: int, body: dict) -> dict:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status in (401, 403):
        kind = "authentication_error" if status == 401 else "permission_error"
    elif status == 429:
        kind = "rate_limit_error"
    return {
        "error": {
            "message": body.get("detail") or body.get("error") or "error",
            "type": kind,
            "param": body.get("param"),
            "code": body.get("error"),
        }
    }


class OpenAIErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            return await self.app(scope, receive, send)
        held: Message | None = None
        body = b""

        async def rewrite(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message  # an error: its body is small, rewritten once whole
                return
            if held is None:
                return await send(message)
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            try:
                shaped = orjson.dumps(openai_error(held["status"], orjson.loads(body)))
            except (orjson.JSONDecodeError, AttributeError):
                shaped = body  # not one of ours (none is): as it was
            headers = [(k, v) for k, v in held["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(shaped)).encode()))
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": shaped})

        await self.app(scope, receive, rewrite)


OPENAI_ERROR_SCHEMA = {
    "title": "OpenAIError",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def document(schema: dict) -> dict:
    """The OpenAPI document as `/v1/` answers: its errors in OpenAI's shape."""
    ref = {"$ref": "#/components/schemas/OpenAIError"}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(PREFIX):
            continue
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45" and "application/json" in response.get("content", {}):
                    response["content"]["application/json"]["schema"] = ref
    schema.setdefault("components", {}).setdefault("schemas", {})["OpenAIError"] = (
        OPENAI_ERROR_SCHEMA
    )
    return schema
