"""Errors on the OpenAI-compatible routes (`/v1/...`) in OpenAI's shape, so that its clients
show the reason: `{"error": {"message", "type", "param", "code"}}`. The API's own errors
(`{"error": code, "detail": text}`) are made once, everywhere; the edge (api/edge.py) rewrites
them for `/v1/` on their way out, whichever part answered (the browser guard, the body bound,
access, a route, the error boundary). `/api/v1` keeps its own shape."""

from __future__ import annotations

import orjson
from starlette.types import Message

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


def reshaped(start: Message, body: bytes) -> tuple[Message, Message]:
    """An error answer of the API (its start and its whole body) in OpenAI's shape."""
    try:
        shaped = orjson.dumps(openai_error(start["status"], orjson.loads(body)))
    except (orjson.JSONDecodeError, AttributeError):
        shaped = body  # not one of ours (none is): as it was
    headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(shaped)).encode()))
    return {**start, "headers": headers}, {"type": "http.response.body", "body": shaped}


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
