"""The FastAPI application."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiodas import __version__
from audiodas.api import (
    access,
    errors,
    events,
    health,
    openai_compat,
    openai_errors,
    recordings,
    speech,
    web,
)
from audiodas.api.body_limits import BodyLimit
from audiodas.api.guard import BrowserGuard
from audiodas.api.openai_errors import OpenAIErrors
from audiodas.api.progress import ProgressHub
from audiodas.api.views import RecordingViews
from audiodas.config import Settings
from audiodas.inference import InferenceClient
from audiodas.metrics import Metrics
from audiodas.processes import die_with_supervisor, keep_startup_objects
from audiodas.runtime import Runtime, open_runtime


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    inference: InferenceClient | None = None,
) -> FastAPI:
    """The API of one HTTP process. The engine runs in a process of its own (`audiodas serve`
    starts both); this process reaches it through the work queue, the event bus and the
    inference service. Tests pass a `runtime` and an `inference` of their own
    (`audiodas.testing`); the app then runs in-process, and closes the runtime when it stops."""
    if runtime is not None:
        settings = runtime.settings
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is None:
            die_with_supervisor()
        current = runtime or open_runtime(settings)
        await current.start()
        app.state.runtime = current
        app.state.metrics = current.metrics
        app.state.inference = inference or InferenceClient(settings.run_path)
        app.state.progress = ProgressHub(current.events)
        app.state.views = RecordingViews(current.service, current.access)
        if runtime is None:  # a process of its own, which serves until it exits
            keep_startup_objects()
        try:
            yield
        finally:
            await current.close()

    app = FastAPI(
        title="AudioDAS",
        version=__version__,
        summary="Ingest, archive, transcribe, summarize and stream audio recordings.",
        lifespan=lifespan,
    )
    app.router.route_class = access.Authorized
    errors.install(app)
    generate_openapi = app.openapi

    def openapi() -> dict:
        return app.openapi_schema or openai_errors.document(
            access.document(errors.document(generate_openapi()))
        )

    app.openapi = openapi  # type: ignore[method-assign]
    web.install(app, settings)
    app.include_router(recordings.router)
    app.include_router(events.router)
    app.include_router(speech.router)
    app.include_router(openai_compat.router)
    app.include_router(health.router)
    access.install(app)
    app.add_middleware(errors.ErrorBoundary)
    app.add_middleware(BodyLimit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range", "If-None-Match", "If-Range"],
            # What a player or uploader on another origin reads from the answers.
            expose_headers=[
                "Content-Range",
                "Accept-Ranges",
                "Content-Length",
                "Location",
                "ETag",
                "X-Request-ID",
            ],
            max_age=600,
        )
    # Outside CORS: a refused Host or origin never reaches it (nor anything else).
    app.add_middleware(BrowserGuard, settings=settings)
    app.add_middleware(OpenAIErrors)
    app.add_middleware(_TimingMiddleware)
    return app


class _TimingMiddleware:
    """Request durations by route template (not by raw path, which would explode labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.http_duration.labels(route, str(status)).observe(
                    time.perf_counter() - started
                )
