"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp

from audiodas import __version__
from audiodas.api import (
    access,
    audit,
    errors,
    events,
    health,
    live,
    openai_compat,
    openai_errors,
    recordings,
    session,
    speech,
    web,
)
from audiodas.api.edge import Edge
from audiodas.api.progress import ProgressHub
from audiodas.api.views import RecordingViews
from audiodas.config import Settings
from audiodas.inference import InferenceClient
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

    app = _AudioDAS(
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
    app.include_router(session.router)
    app.include_router(live.router)
    app.include_router(audit.router)
    access.install(app)
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
    app.add_middleware(Edge, settings=settings)
    return app


class _AudioDAS(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        """Our middleware (the edge, CORS) around FastAPI's exception handlers and its exit
        stack, without FastAPI's outer three: its server-error middleware (the edge answers
        what escapes), its telemetry (none is configured) and its body limit (the edge bounds
        bodies). Each layer costs every request."""
        handlers = {k: v for k, v in self.exception_handlers.items() if k not in (500, Exception)}
        app: ASGIApp = AsyncExitStackMiddleware(self.router)
        app = ExceptionMiddleware(app, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
