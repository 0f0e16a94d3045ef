"""The service's rules on the twins (recordings, outbox and queue in memory, a FakeClock, a
probe that says what the file is): what it stores, queues and refuses, in milliseconds."""

from __future__ import annotations

import pytest

from audiodas.adapters.database.awaited import InProcessReads
from audiodas.adapters.storage import LocalBlobStore
from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    RecordingStatus,
    Rejected,
    Stage,
    StageName,
    StageStatus,
    Variant,
    VariantName,
)
from audiodas.services import RecordingService
from audiodas.testing import (
    FakeClock,
    InMemoryRecordingRepository,
    InMemoryWebhookOutbox,
    InMemoryWorkQueue,
)

DAY_S = 86_400
TALK = AudioInfo("mp3", "audio/mpeg", "mp3", "mp3", 120.0, 44100, 2)


@pytest.fixture
def service(tmp_path) -> RecordingService:
    clock = FakeClock()
    outbox = InMemoryWebhookOutbox(clock)
    repository = InMemoryRecordingRepository(outbox)
    return RecordingService(
        Settings(data_dir=tmp_path, retention_days=1826, max_duration_s=600),
        repository, LocalBlobStore(tmp_path), lambda path: TALK, {}, InMemoryWorkQueue(),
        lambda path: None, outbox, InProcessReads(repository), clock,
    )  # fmt: skip


def staged(service: RecordingService, data: bytes = b"ID3 a talk"):  # type: ignore[no-untyped-def]
    file = service.store.stage(1 << 20)
    file.write(data)
    return file


def test_an_upload_is_stored_and_queued_in_one_step(service) -> None:  # type: ignore[no-untyped-def]
    recording = service.ingest(staged(service), "../../talk.mp3")
    assert service.work.enqueued == [recording.id]
    stored = service.get(recording.id)
    assert stored.status == RecordingStatus.QUEUED and stored.filename == "talk.mp3"
    assert stored.created_at == service.clock.now()
    original = service.store.local_path(stored.variants["original"].path)
    assert original.read_bytes() == b"ID3 a talk"


def test_a_refused_upload_leaves_nothing(service) -> None:  # type: ignore[no-untyped-def]
    service.probe = lambda path: AudioInfo("mp3", "audio/mpeg", "mp3", "mp3", 3600.0, 44100, 2)
    file = staged(service)
    with pytest.raises(Rejected) as refused:
        service.ingest(file, "long.mp3")
    assert refused.value.code == Rejected.TOO_LONG
    assert not file.path.exists() and service.work.enqueued == []
    assert service.repository.count_by_status()[RecordingStatus.QUEUED] == 0


def test_retention_holds_the_recording_until_its_last_day(service) -> None:  # type: ignore[no-untyped-def]
    recording = service.ingest(staged(service), "talk.mp3")
    service.clock.advance(1826 * DAY_S - 1)
    with pytest.raises(Rejected) as refused:
        service.delete(recording.id)
    assert refused.value.code == Rejected.UNDER_RETENTION
    service.clock.advance(2)
    service.delete(recording.id)
    with pytest.raises(Rejected):
        service.get(recording.id)


def test_only_a_failed_recording_is_retried_and_queued_again(service) -> None:  # type: ignore[no-untyped-def]
    recording = service.ingest(staged(service), "talk.mp3")
    with pytest.raises(Rejected) as refused:
        service.retry(recording.id)
    assert refused.value.code == Rejected.NOT_RETRYABLE
    service.repository.set_status(recording.id, RecordingStatus.FAILED, service.clock.now())
    assert service.retry(recording.id).status == RecordingStatus.QUEUED
    assert service.work.enqueued == [recording.id, recording.id]


def test_an_original_past_its_own_retention_goes_and_the_archive_stays(service) -> None:  # type: ignore[no-untyped-def]
    service.settings = service.settings.model_copy(update={"original_retention_days": 30})
    kept, held = (service.ingest(staged(service), f"{n}.mp3") for n in ("kept", "held"))
    for recording in (kept, held):  # archived and done
        archive = service.store.scratch(".m4a")
        archive.write_bytes(b"an archive")
        key = service.store.put(archive, recording.id, "archive.m4a")
        now = service.clock.now()
        service.repository.save_stage(
            recording.id, Stage(StageName.ARCHIVE, StageStatus.DONE, now, now, None, 1),
            variant=Variant(VariantName.ARCHIVE, key, "audio/mp4", 10, "a" * 64), now=now,
        )  # fmt: skip
        service.repository.set_status(recording.id, RecordingStatus.DONE, now)
    service.hold(held.id, "audit 2027")
    service.clock.advance(30 * DAY_S - 1)
    assert service.remove_due_originals() == 0  # not yet
    service.clock.advance(2)
    assert service.remove_due_originals() == 1 and service.remove_due_originals() == 0
    after = service.get(kept.id)
    assert VariantName.ORIGINAL not in after.variants and after.original_removed_at is not None
    assert not service.store.local_path(kept.variants["original"].path).exists()
    assert service.variant_file(kept.id, VariantName.ARCHIVE).stat.st_size == 10
    with pytest.raises(Rejected) as gone:
        service.variant_file(kept.id, VariantName.ORIGINAL)
    assert gone.value.code == Rejected.ORIGINAL_REMOVED
    assert VariantName.ORIGINAL in service.get(held.id).variants  # the hold keeps it whole
    removed = service.repository.audit.page(limit=1)[0]
    assert removed.action == "original_removed" and removed.recording_id == kept.id
    assert removed.detail["sha256"] == kept.sha256
