"""`audiodas process`: the pipeline on local files, no server, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audiodas.config import Settings
from audiodas.domain import STAGE_NAMES, Recording, Rejected, StageStatus


async def process_files(settings: Settings, files: list[Path], domain: str | None) -> int:
    """Ingest each file into the configured store and process it; returns the exit code."""

    from audiodas.runtime import open_engine, open_runtime

    console = Console(stderr=True)
    runtime = open_runtime(settings)
    await runtime.start()
    engine = open_engine(runtime)
    changed = asyncio.Event()
    runtime.events.subscribe(lambda _event: changed.set())
    recordings: list[Recording] = []
    for path in files:
        try:
            recordings.append(await asyncio.to_thread(ingest_file, runtime, path, domain))
        except Rejected as exc:
            console.print(f"[red]{path}: {exc.code}: {exc.detail}")
    if not recordings:
        await runtime.close()
        return 2

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bars = {r.id: progress.add_task(r.filename, total=len(STAGE_NAMES)) for r in recordings}
        await engine.start()  # its consumers claim these recordings
        while True:
            current = [await asyncio.to_thread(runtime.repository.get, r.id) for r in recordings]
            for r in current:
                ended = sum(
                    s.status in (StageStatus.DONE, StageStatus.FAILED) for s in r.stages.values()
                )
                progress.update(bars[r.id], completed=ended)
            if all(r.status.finished for r in current):
                break
            # Redrawn on each stage event the engine publishes (and every few seconds).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 5)
            changed.clear()
    await engine.stop(0)
    await runtime.close()

    table = Table("file", "status", "duration", "summary", "id")
    for r in current:
        table.add_row(r.filename, r.status, f"{r.duration_s:.1f} s", r.summary or "", r.id)
    Console().print(table)
    return 0 if all(r.status == "done" for r in current) else 1


def ingest_file(runtime, path: Path, domain: str | None) -> Recording:  # type: ignore[no-untyped-def]
    staged = runtime.store.stage(runtime.settings.max_upload_bytes, to_keep=True)
    try:
        with path.open("rb") as source:
            while chunk := source.read(1 << 20):
                staged.write(chunk)
    except BaseException:
        staged.discard()
        raise
    return runtime.service.ingest(staged, path.name, domain)
