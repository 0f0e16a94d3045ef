"""Liveness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    try:
        request.app.state.service.repository.ping()
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {exc.__class__.__name__}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
