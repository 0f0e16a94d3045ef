"""What routes use of the process: the Runtime and what it wires, read from the request.

Plain functions a route calls, not FastAPI dependencies: FastAPI solves a route's dependency
graph on every request, and on the hot reads that cost more than the read (py-spy)."""

from __future__ import annotations

from fastapi import Request

from audiodas.api.progress import ProgressHub
from audiodas.api.views import RecordingViews
from audiodas.inference import InferenceClient
from audiodas.runtime import Runtime
from audiodas.services import RecordingService


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def service(request: Request) -> RecordingService:
    return request.app.state.runtime.service


def inference(request: Request) -> InferenceClient:
    return request.app.state.inference


def progress(request: Request) -> ProgressHub:
    return request.app.state.progress


def views(request: Request) -> RecordingViews:
    """The views whose links carry what this request's credentials allow (api/access.py)."""
    return request.app.state.views.granted(request.state.grant)
