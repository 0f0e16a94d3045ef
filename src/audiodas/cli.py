"""The `audiodas` command."""

from __future__ import annotations

import typer

from audiodas.config import Settings

app = typer.Typer(help="AudioDAS: self-hostable audio processing engine.", no_args_is_help=True)


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on [default: 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
) -> None:
    """Run the API (and, on the embedded default, the processing engine)."""
    import uvicorn

    from audiodas.api import create_app

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        timeout_graceful_shutdown=30,
    )


@app.command()
def version() -> None:
    """Print the version."""
    from audiodas import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
