"""The web app (static files) and the browser model, served by the same server."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from audiodas.config import Settings

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def install(app: FastAPI, settings: Settings) -> None:
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.mount("/models", _ModelFiles(directory=settings.web_models_path), name="models")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


class _ModelFiles(StaticFiles):
    """The browser model: absent until `audiodas models build-web` has run (404 until then,
    served as soon as it is built)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)

    async def check_config(self) -> None:
        if not os.path.isdir(self.directory or ""):
            raise HTTPException(
                404, "the browser model is not built here: run `audiodas models build-web`"
            )
        await super().check_config()
