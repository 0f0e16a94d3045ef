"""HTTP entry point: API v1 on FastAPI."""

from audiodas.api.app import create_app

__all__ = ["create_app"]
