"""A stage's retry policy, with the back-off's clock injected (no sleeps): attempts, back-off
doubling, a stage that cannot run is not retried, the machine's failures spend no attempt and
stop the recording, an interrupted stage is left for the next start, and the branches stop
together."""

from __future__ import annotations

import asyncio

import pytest

from audiodas.adapters.storage import LocalBlobStore
from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    DatabaseUnavailable,
    Recording,
    RecordingStatus,
    StageName,
    StageStatus,
    StorageFull,
)
from audiodas.engine.pipeline import Pipeline, StageFailed, StageOutput
from audiodas.metrics import Metrics
from audiodas.slots import Slots
from audiodas.testing import FakeClock, InMemoryEventBus, InMemoryRecordingRepository


@pytest.fixture
def pipeline(tmp_path):
    """The pipeline on the twins: recordings in memory, a clock whose waits are recorded, not
    slept. No database, no process."""
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, stage_retries=2, retry_backoff_s=1.5)
    repository = InMemoryRecordingRepository()
    pipeline = Pipeline(
        settings, repository, LocalBlobStore(tmp_path), None, None, {}, Metrics(),
        Slots("ffmpeg", 1), InMemoryEventBus(), clock,
    )  # fmt: skip
    pipeline.slept = clock.slept  # type: ignore[attr-defined]
    rec = Recording.new(
        id="1" * 32, filename="a.wav", info=AudioInfo("wav", "audio/wav", "wav", "pcm", 1, 16000, 1),
        size_bytes=1, sha256="0" * 64, now=clock.now(), retention_days=1,
        original_path="recordings/1/original.wav",
    )  # fmt: skip
    repository.add(rec)
    pipeline.recording = rec  # type: ignore[attr-defined]
    return pipeline


def failing(times: int, exc: Exception):  # type: ignore[no-untyped-def]
    calls = []

    async def work() -> StageOutput:
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return StageOutput()

    work.calls = calls  # type: ignore[attr-defined]
    return work


def run(pipeline, work) -> bool:  # type: ignore[no-untyped-def]
    return asyncio.run(
        pipeline._run_stage(pipeline.recording, StageName.ECHO, pipeline.ffmpeg_slots, work)
    )


def stored_stage(pipeline):  # type: ignore[no-untyped-def]
    return pipeline.repository.get(pipeline.recording.id).stages[StageName.ECHO]


def test_a_stage_that_fails_twice_succeeds_on_its_third_attempt(pipeline) -> None:
    work = failing(2, RuntimeError("ffmpeg exited 1"))
    assert run(pipeline, work) is True
    assert len(work.calls) == 3 and pipeline.slept == [1.5, 3.0]  # back-off doubles
    stage = stored_stage(pipeline)
    assert (stage.status, stage.attempts, stage.error) == (StageStatus.DONE, 3, None)


def test_a_stage_that_keeps_failing_is_failed_with_its_last_error(pipeline) -> None:
    work = failing(9, RuntimeError("invalid sync code\nmore detail"))
    assert run(pipeline, work) is False
    assert len(work.calls) == 3 and pipeline.slept == [1.5, 3.0]  # no wait after the last
    stage = stored_stage(pipeline)
    assert (stage.status, stage.attempts, stage.error) == (
        StageStatus.FAILED,
        3,
        "invalid sync code",
    )


def test_a_stage_that_cannot_run_is_not_retried(pipeline) -> None:
    work = failing(9, StageFailed("no transcript to summarize"))
    assert run(pipeline, work) is False
    assert len(work.calls) == 1 and pipeline.slept == []
    assert stored_stage(pipeline).status == StageStatus.FAILED


def test_the_machines_failure_spends_no_attempt_and_stops_the_recording(pipeline) -> None:
    outage = DatabaseUnavailable("unable to open database")  # as the adapters raise it
    with pytest.raises(DatabaseUnavailable):
        run(pipeline, failing(1, outage))
    assert pipeline.slept == []
    stage = stored_stage(pipeline)
    assert stage.status == StageStatus.RUNNING and stage.error is None  # back to the queue


def test_an_interrupted_stage_is_left_pending_for_the_next_start(pipeline) -> None:
    async def interrupted() -> StageOutput:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        run(pipeline, interrupted)
    assert stored_stage(pipeline).status == StageStatus.PENDING


def test_a_branch_the_machine_broke_stops_the_others_and_leaves_the_recording_to_requeue(
    pipeline,
) -> None:
    """The three branches run together; when one raises (the machine failed, not the stage),
    the others are cancelled at once, not waited for, and the recording is not settled: the
    queue hands it out again."""
    outage = StorageFull("database or disk is full")
    cancelled = []

    async def archive(recording, name):  # type: ignore[no-untyped-def]
        if name == StageName.ARCHIVE:
            raise outage
        return await long_branch(name)

    async def long_branch(name):  # type: ignore[no-untyped-def]
        try:
            await asyncio.Event().wait()  # would never end on its own
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    pipeline._encode = archive
    pipeline._speech = lambda recording: long_branch("speech")
    with pytest.raises(ExceptionGroup) as raised:
        asyncio.run(asyncio.wait_for(pipeline.process(pipeline.recording.id), timeout=10))
    assert raised.value.exceptions == (outage,)
    assert sorted(cancelled, key=str) == sorted([StageName.ECHO, "speech"], key=str)
    assert pipeline.repository.get(pipeline.recording.id).status == RecordingStatus.PROCESSING
