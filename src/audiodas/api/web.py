"""The web app (static files) and the browser model, served by the same server."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, PathLike
from starlette.types import Scope

from audiodas.config import Settings

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def install(app: FastAPI, settings: Settings) -> None:
    app.mount("/static", _AppFiles(directory=STATIC, check_dir=False), name="static")
    app.mount("/models", _ModelFiles(directory=settings.web_models_path), name="models")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


class _AppFiles(StaticFiles):
    """The web app and the edge check's runtime (27 MB of WebAssembly among it): a browser keeps
    them and asks each visit whether they changed (ETag: `304`, no body), so a second visit
    downloads none of them and a new build is used at once."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = FileResponse(
            full_path, status_code, {"Cache-Control": "no-cache"}, stat_result=stat_result
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


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
