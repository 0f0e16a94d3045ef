"""Every error leaves as JSON `{"error": code, "detail": text}` with the status its code means.

Refusals (`Rejected`) and HTTP errors are answered by FastAPI's exception handlers; whatever
escapes them meets the edge (api/edge.py), which answers `failure_response`: a full disk is
507, a database out of reach 503, anything else 500 with a request id.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from audiodas.api import refusals
from audiodas.domain import (
    DatabaseUnavailable,
    Rejected,
    StorageFull,
    StoreUnavailable,
    unavailable_in,
)

log = logging.getLogger("audiodas.api")

STATUS_BY_CODE: dict[str, int] = {
    Rejected.MISSING_FILE: 400,
    Rejected.EMPTY_FILE: 400,
    Rejected.INVALID_FIELD: 400,
    Rejected.BAD_CURSOR: 400,
    refusals.BAD_RANGE: 400,
    refusals.MALFORMED_BODY: 400,
    refusals.HOST_NOT_ALLOWED: 400,
    Rejected.UNAUTHENTICATED: 401,
    Rejected.INVALID_KEY: 401,
    Rejected.FORBIDDEN: 403,
    Rejected.LINK_EXPIRED: 403,
    Rejected.LINK_INVALID: 403,
    refusals.ORIGIN_NOT_ALLOWED: 403,
    Rejected.NOT_FOUND: 404,
    refusals.BODY_TIMEOUT: 408,
    Rejected.UNDER_RETENTION: 409,
    Rejected.LEGAL_HOLD: 409,
    Rejected.NOT_HELD: 409,
    Rejected.ORIGINAL_REMOVED: 410,
    Rejected.VARIANT_NOT_READY: 409,
    Rejected.NOT_RETRYABLE: 409,
    Rejected.TOO_LARGE: 413,
    refusals.BODY_TOO_LARGE: 413,
    refusals.RANGE_NOT_SATISFIABLE: 416,
    refusals.TOO_MANY_ATTEMPTS: 429,
    Rejected.NOT_AUDIO: 415,
    Rejected.TOO_LONG: 422,
    Rejected.INVALID_REQUEST: 422,
    refusals.UNPROCESSABLE_AUDIO: 422,
    refusals.INFERENCE_FAILED: 500,
    refusals.INFERENCE_BUSY: 503,
    refusals.ENGINE_UNAVAILABLE: 503,
    refusals.DATABASE_UNAVAILABLE: 503,
    refusals.STORE_UNAVAILABLE: 503,
    refusals.INFERENCE_TIMEOUT: 504,
    refusals.STORAGE_FULL: 507,
}
# Worth trying again shortly: the answer says when.
_RETRY_AFTER_S = {
    refusals.INFERENCE_BUSY: 5,
    refusals.ENGINE_UNAVAILABLE: 10,
    refusals.DATABASE_UNAVAILABLE: 5,
    refusals.STORE_UNAVAILABLE: 5,
    refusals.STORAGE_FULL: 60,
}
# The body was not read to its end: the connection cannot carry another request.
_CLOSE = {
    refusals.BODY_TIMEOUT,
    Rejected.TOO_LARGE,
    refusals.BODY_TOO_LARGE,
    refusals.MALFORMED_BODY,
}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: str
) -> JSONResponse:
    body = {"error": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def rejected_response(exc: Rejected) -> JSONResponse:
    headers = {}
    if STATUS_BY_CODE.get(exc.code) == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if retry := exc.retry_after_s or _RETRY_AFTER_S.get(exc.code):
        headers["Retry-After"] = str(retry)
    if exc.code in _CLOSE:
        headers["Connection"] = "close"
    return error_response(STATUS_BY_CODE[exc.code], exc.code, exc.detail, headers)


def infrastructure_failure(exc: BaseException) -> Rejected | None:
    """The refusal a failure of the machine (not of the request) is answered with, if it is one
    (the adapters raise them in place of their drivers' errors)."""
    failure = unavailable_in(exc)
    if isinstance(failure, StorageFull):
        return Rejected(
            refusals.STORAGE_FULL, "no space left on the server's storage; nothing was stored"
        )
    if isinstance(failure, DatabaseUnavailable):
        return Rejected(
            refusals.DATABASE_UNAVAILABLE, "the database is unavailable; try again shortly"
        )
    if isinstance(failure, StoreUnavailable):
        return Rejected(
            refusals.STORE_UNAVAILABLE, "the file store is unreachable; try again shortly"
        )
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return rejected_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(
                str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")
            )
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return error_response(422, Rejected.INVALID_REQUEST, "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, code, str(exc.detail), headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the path answers to: Starlette's 405 names only the first route's."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def documented(description: str) -> dict:
    """An OpenAPI response: the one error shape, with what it means here."""
    error = {"$ref": "#/components/schemas/ErrorOut"}
    return {"description": description, "content": {"application/json": {"schema": error}}}


def document(schema: dict) -> dict:
    """The OpenAPI document as the API answers: errors in the one JSON shape (FastAPI would
    promise its own 422 body), and the statuses any request can meet."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = documented("Invalid parameters")
            responses.setdefault("500", documented("Unexpected failure (with a request id)"))
            responses.setdefault("503", documented("Database unavailable (with Retry-After)"))
            if "requestBody" in operation:
                responses.setdefault("400", documented("Malformed body"))
                responses.setdefault("408", documented("The body stalled"))
                responses.setdefault("507", documented("No space left on the server"))
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema


def transport_closed(exc: RuntimeError) -> bool:
    """uvloop's refusal to write to a connection the client closed (seen when it closes with
    pipelined requests still being answered): the client went away, nothing failed here."""
    return "handler is closed" in str(exc)


def client_gone(scope: Scope) -> JSONResponse:
    """The client went away mid-request: nobody to answer and nothing wrong here. 499 (nginx's
    "client closed request") is never sent; it keeps the metrics honest."""
    log.info("%s %s: the client went away", scope["method"], scope["path"])
    return error_response(499, "client_closed", "the client went away")


def failure_response(exc: Exception, scope: Scope) -> JSONResponse:
    """The answer to what escaped every handler: 507 or 503 for a failure of the machine, else
    500 with a request id that the log line carries too (never a trace or a path)."""
    where = f"{scope['method']} {scope['path']}"
    refusal = infrastructure_failure(exc)
    if refusal is not None:
        log.warning("%s: %s (%s)", where, refusal.detail, exc.__class__.__name__)
        return rejected_response(refusal)
    request_id = uuid.uuid4().hex[:16]
    log.exception("request %s failed: %s", request_id, where)
    return error_response(
        500,
        "internal_error",
        "the server failed to answer; the log has the cause",
        {"X-Request-ID": request_id},
        request_id=request_id,
    )
