"""The WorkQueue port's contract, run against its in-memory twin (audiodas.testing) and the real
queues (the recording row as the job on SQLite; procrastinate's jobs on PostgreSQL): a recording
enqueued in the transaction that stores it is handed to the engine once, however many are
queued at once, and `stop` ends `serve`.

    (WorkQueue, InMemoryWorkQueue)  (WorkQueue, SqlWorkQueue)  (WorkQueue, ProcrastinateWorkQueue)"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from audiodas.adapters.database import SqlRecordingRepository, SqlWorkQueue, create_engine_for
from audiodas.adapters.database.procrastinate_queue import ProcrastinateWorkQueue
from audiodas.adapters.local_bus import LocalBus
from audiodas.config import Settings
from audiodas.domain import AudioInfo, Recording, RecordingStatus
from audiodas.testing import InMemoryRecordingRepository, InMemoryWorkQueue

START = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["twin", "sqlite", "postgresql"])
def queue_and_repository(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sweep_interval_s=0.2, work_lease_s=5)
    if request.param == "twin":
        yield InMemoryWorkQueue(), InMemoryRecordingRepository()
        return
    if request.param == "sqlite":
        target = tmp_path / "queue.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
        engine = create_engine_for(Settings(database_url=f"sqlite:///{target}").sqlalchemy_url)
        queue = SqlWorkQueue(engine, LocalBus(tmp_path / "run"), settings)
    else:
        template = request.getfixturevalue("migrated_postgres_template")
        url = request.getfixturevalue("postgres").create_database(
            f"q_{uuid.uuid4().hex[:12]}", template=template
        )
        engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
        queue = ProcrastinateWorkQueue(engine, settings)
    yield queue, SqlRecordingRepository(engine)
    engine.dispose()


def recording(n: int) -> Recording:
    return Recording.new(
        id=f"{n:032x}", filename=f"talk{n}.wav",
        info=AudioInfo("wav", "audio/wav", "wav", "pcm_s16le", 12.5, 16000, 1),
        size_bytes=1000, sha256="0" * 64, now=START + timedelta(seconds=n), retention_days=30,
        original_path=f"recordings/{n}/original.wav",
    )  # fmt: skip


def test_every_recording_enqueued_with_it_is_handed_out_once(queue_and_repository) -> None:  # type: ignore[no-untyped-def]
    queue, repository = queue_and_repository
    stored = [recording(n) for n in range(6)]

    async def run() -> Counter:
        handled: Counter = Counter()

        async def handle(recording_id: str) -> None:  # what the engine does: finish it
            handled[recording_id] += 1
            await asyncio.sleep(0.05)
            repository.set_status(recording_id, RecordingStatus.DONE, START)

        serving = asyncio.create_task(queue.serve(handle, worker="w1", concurrency=2))
        for rec in stored:  # the job in the transaction that stores the recording
            repository.add(
                rec, then=lambda transaction, rec=rec: queue.enqueue(rec.id, transaction)
            )
        deadline = asyncio.get_running_loop().time() + 20
        while len(handled) < len(stored) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a second handing-out, if there were one
        await queue.stop(grace=1)
        await asyncio.wait_for(serving, 10)  # stop ends serve
        return handled

    handled = asyncio.run(run())
    assert handled == Counter({rec.id: 1 for rec in stored})
