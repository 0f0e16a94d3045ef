"""What routes receive through FastAPI's Depends: the process's Runtime and what it wires.
Async on purpose: FastAPI runs a plain `def` dependency in a worker thread, on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from audiodas.api.progress import ProgressHub
from audiodas.api.views import RecordingViews
from audiodas.inference import InferenceClient
from audiodas.runtime import Runtime
from audiodas.services import RecordingService


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_service(request: Request) -> RecordingService:
    return request.app.state.runtime.service


async def get_inference(request: Request) -> InferenceClient:
    return request.app.state.inference


async def get_progress(request: Request) -> ProgressHub:
    return request.app.state.progress


async def get_views(request: Request) -> RecordingViews:
    """The views whose links carry what this request's credentials allow (api/access.py)."""
    return request.app.state.views.granted(request.state.grant)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServiceDep = Annotated[RecordingService, Depends(get_service)]
InferenceDep = Annotated[InferenceClient, Depends(get_inference)]
ProgressDep = Annotated[ProgressHub, Depends(get_progress)]
ViewsDep = Annotated[RecordingViews, Depends(get_views)]
