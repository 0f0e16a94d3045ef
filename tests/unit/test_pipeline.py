"""A recording through the pipeline on the twins alone (audiodas.testing): recordings and
webhook deliveries in memory, an encoder without FFmpeg, an inference without a model, a clock
that moves when told. What the engine promises, in milliseconds: the three branches, the
products saved, the status, the webhook queued with it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from audiodas.adapters.storage import LocalBlobStore
from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    Recording,
    RecordingStatus,
    StageName,
    StageStatus,
    VariantName,
)
from audiodas.domain.audit import Action, AuditEntry
from audiodas.engine.pipeline import Pipeline
from audiodas.metrics import Metrics
from audiodas.slots import Slots
from audiodas.testing import (
    FakeClock,
    FakeEncoder,
    FakeInference,
    InMemoryEventBus,
    InMemoryRecordingRepository,
    InMemoryWebhookOutbox,
)

SPEECH = "Inflation rose again last month. The central bank raised rates."


def engine_on_twins(tmp_path, encoder: FakeEncoder, inference: FakeInference):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    outbox = InMemoryWebhookOutbox(clock)
    repository = InMemoryRecordingRepository(outbox)
    store = LocalBlobStore(tmp_path / "data")
    events = InMemoryEventBus()
    settings = Settings(data_dir=tmp_path / "data", stage_retries=2, retry_backoff_s=1.0)
    pipeline = Pipeline(
        settings, repository, store, inference, encoder, {}, Metrics(), Slots("ffmpeg", 2),
        events, clock,
    )  # fmt: skip
    source = tmp_path / "talk.wav"
    source.write_bytes(b"RIFF a talk")
    rid = "a" * 32
    recording = Recording.new(
        id=rid, filename="talk.wav", info=AudioInfo("wav", "audio/wav", "wav", "pcm", 12, 16000, 1),
        size_bytes=11, sha256="0" * 64, now=clock.now(), retention_days=1826,
        original_path=store.put(source, rid, "original.wav"),
    )  # fmt: skip
    repository.add(replace(recording, callback_url="https://receiver.example/hook"))
    return pipeline, repository, outbox, events, clock, rid


def test_a_recording_runs_its_three_branches_and_queues_its_webhook(tmp_path) -> None:
    encoder, inference = FakeEncoder(), FakeInference(SPEECH)
    pipeline, repository, outbox, events, clock, rid = engine_on_twins(tmp_path, encoder, inference)
    clock.advance(5)
    done = asyncio.run(pipeline.process(rid))
    assert done.status == RecordingStatus.DONE
    stored = repository.get(rid)
    assert all(s.status == StageStatus.DONE for s in stored.stages.values())
    assert stored.stages[StageName.ARCHIVE].finished_at == clock.now()
    assert sorted(encoder.encoded) == ["archive", "echo"]
    archive = stored.variants[VariantName.ARCHIVE]
    assert pipeline.store.local_path(archive.path).read_bytes() == b"archiveRIFF a talk"
    assert stored.transcript == SPEECH and stored.summary == SPEECH[:50]
    (hook,) = outbox.of_recording(rid)
    assert hook.url == "https://receiver.example/hook" and hook.event == "recording.done"
    assert json.loads(hook.body)["data"]["summary"] == SPEECH[:50]
    kinds = [e.get("type") for e in events.published]
    assert "stage" in kinds and kinds[-1] == "status"
    assert clock.slept == []  # nothing failed, nothing waited


def test_a_failing_encoder_fails_its_branches_after_back_off_and_not_the_speech(tmp_path) -> None:
    encoder, inference = FakeEncoder(RuntimeError("FFmpeg failed (exit 1)")), FakeInference(SPEECH)
    pipeline, repository, outbox, _, clock, rid = engine_on_twins(tmp_path, encoder, inference)
    done = asyncio.run(pipeline.process(rid))
    assert done.status == RecordingStatus.FAILED
    stages = repository.get(rid).stages
    for branch in (StageName.ARCHIVE, StageName.ECHO):
        assert stages[branch].status == StageStatus.FAILED and stages[branch].attempts == 3
        assert stages[branch].error == "FFmpeg failed (exit 1)"
    assert stages[StageName.SUMMARIZE].status == StageStatus.DONE
    assert sorted(clock.slept) == [1.0, 1.0, 2.0, 2.0]  # each branch backed off twice, doubling
    assert [d.event for d in outbox.of_recording(rid)] == ["recording.failed"]
    assert repository.reopen(rid, clock.now())  # a retry runs only the failed stages again
    assert repository.get(rid).stages[StageName.TRANSCRIBE].status == StageStatus.DONE


def test_a_long_transcription_is_readable_window_by_window_and_resumes_where_it_stopped(
    tmp_path,
) -> None:
    """Each window is stored (and announced) as soon as it is transcribed, before the stage is
    done; an attempt cut off after the first window resumes at the second: no window is
    transcribed twice, and the summary is made of the whole transcript only."""
    from audiodas.domain import Segment
    from audiodas.domain.transcript import TranscribedWindow
    from audiodas.inference.errors import InferenceFailed

    windows = [
        TranscribedWindow(0.0, 300.0, "en", [Segment(1.0, 5.0, "Inflation rose again.")]),
        TranscribedWindow(300.0, 600.0, "en", [Segment(301.0, 305.0, "Rates went up.")]),
        TranscribedWindow(600.0, 720.0, "en", [Segment(601.0, 604.0, "Questions, please.")]),
    ]
    inference = FakeInference(
        windows=windows, failure=InferenceFailed("the inference process died"), fail_after=1
    )
    pipeline, repository, _, events, _, rid = engine_on_twins(tmp_path, FakeEncoder(), inference)
    seen: list[tuple[str | None, float | None, str]] = []  # what a reader sees meanwhile
    original = pipeline._store_window

    async def stored_then_seen(recording, window):  # type: ignore[no-untyped-def]
        await original(recording, window)
        found = repository.get(rid)
        seen.append(
            (found.transcript, found.transcribed_s, found.stages[StageName.TRANSCRIBE].status)
        )

    pipeline._store_window = stored_then_seen  # type: ignore[method-assign]
    inference_calls = inference.transcribe

    async def failing_once(path, **options):  # type: ignore[no-untyped-def]
        try:
            return await inference_calls(path, **options)
        finally:
            inference.failure = None  # the next attempt runs to the end

    inference.transcribe = failing_once  # type: ignore[method-assign]
    done = asyncio.run(pipeline.process(rid))
    assert done.status == RecordingStatus.DONE
    assert inference.transcribed == [0.0, 300.0, 600.0]  # each window once, over two attempts
    assert repository.get(rid).stages[StageName.TRANSCRIBE].attempts == 2
    assert seen[0] == ("Inflation rose again.", 300.0, StageStatus.RUNNING)
    assert seen[-1][1] == 720.0 and seen[-1][2] == StageStatus.RUNNING
    final = repository.get(rid)
    assert final.transcript == "Inflation rose again. Rates went up. Questions, please."
    assert final.transcribed_s is None and final.summary == final.transcript[:50]
    progress = [e for e in events.published if e.get("type") == "transcript"]
    assert [(e["start_s"], e["done_s"], e["total_s"]) for e in progress] == [
        (0.0, 300.0, 12),
        (300.0, 600.0, 12),
        (600.0, 720.0, 12),
    ]


def test_a_failed_recording_whose_original_is_gone_is_retried_from_its_archive(tmp_path) -> None:
    """The original may go (AUDIODAS_ORIGINAL_RETENTION_DAYS) once a recording is finished,
    failed included: a retry later works from the archive copy, which stays."""
    encoder, inference = FakeEncoder(), FakeInference(SPEECH, failure=RuntimeError("no model"))
    pipeline, repository, _, _, clock, rid = engine_on_twins(tmp_path, encoder, inference)
    assert asyncio.run(pipeline.process(rid)).status == RecordingStatus.FAILED
    entry = AuditEntry(clock.now(), "local", Action.ORIGINAL_REMOVED, rid, {})
    pipeline.store.delete(repository.remove_original(rid, clock.now(), audit=entry))
    assert repository.reopen(rid, clock.now())
    inference.failure = None
    assert asyncio.run(pipeline.process(rid)).status == RecordingStatus.DONE
    archive = repository.get(rid).variants[VariantName.ARCHIVE]
    assert inference.calls[-1] == pipeline.store.local_path(archive.path)
    assert repository.get(rid).transcript == SPEECH
