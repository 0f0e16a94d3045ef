"""The web app (static files) and the browser model, served by the same server."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from audiodas.config import Settings

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def install(app: FastAPI, settings: Settings) -> None:
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    # Model files change only when rebuilt; check_dir=False: the page says when it is absent.
    app.mount(
        "/models", StaticFiles(directory=settings.web_models_path, check_dir=False), name="models"
    )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
