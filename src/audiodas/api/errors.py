"""Every error leaves as JSON `{"error": code, "detail": text}` with the status its code means."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from audiodas.domain import Rejected

STATUS_BY_CODE: dict[str, int] = {
    Rejected.MISSING_FILE: 400,
    Rejected.EMPTY_FILE: 400,
    Rejected.INVALID_FIELD: 400,
    Rejected.BAD_CURSOR: 400,
    Rejected.BAD_RANGE: 400,
    Rejected.NOT_FOUND: 404,
    Rejected.UNDER_RETENTION: 409,
    Rejected.VARIANT_NOT_READY: 409,
    Rejected.TOO_LARGE: 413,
    Rejected.RANGE_NOT_SATISFIABLE: 416,
    Rejected.NOT_AUDIO: 415,
    Rejected.TOO_LONG: 422,
    Rejected.INFERENCE_FAILED: 500,
    Rejected.INFERENCE_BUSY: 503,
    Rejected.ENGINE_UNAVAILABLE: 503,
    Rejected.INFERENCE_TIMEOUT: 504,
}
# Worth trying again shortly: the answer says when.
_RETRY_AFTER_S = {Rejected.INFERENCE_BUSY: 5, Rejected.ENGINE_UNAVAILABLE: 10}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def rejected_response(exc: Rejected) -> JSONResponse:
    retry = _RETRY_AFTER_S.get(exc.code)
    headers = {"Retry-After": str(retry)} if retry else None
    return error_response(STATUS_BY_CODE.get(exc.code, 400), exc.code, exc.detail, headers)


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
        return error_response(422, "invalid_request", "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))
