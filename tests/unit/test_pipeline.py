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
