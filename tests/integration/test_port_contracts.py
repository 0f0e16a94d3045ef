"""One contract per port, run against its in-memory twin (audiodas.testing) and its real
adapters (SQLite and PostgreSQL), so a twin cannot drift from what it stands for.

    (RecordingRepository, InMemoryRecordingRepository)  (RecordingRepository, SqlRecordingRepository)
    (WebhookOutbox, InMemoryWebhookOutbox)              (WebhookOutbox, SqlWebhookOutbox)

Search is SQL's own and is tested on the databases only (tests/integration/test_search.py)."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audiodas.adapters.database import SqlRecordingRepository, SqlWebhookOutbox, create_engine_for
from audiodas.adapters.database.audit import SqlAuditLog
from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    Order,
    Recording,
    RecordingStatus,
    Segment,
    Stage,
    StageName,
    StageStatus,
    Transcript,
    Variant,
    VariantName,
)
from audiodas.domain.audit import Action, AuditEntry, first_break
from audiodas.domain.recording import Hold
from audiodas.domain.transcript import TranscribedWindow, Word
from audiodas.domain.webhooks import Delivery
from audiodas.testing import FakeClock, InMemoryRecordingRepository, InMemoryWebhookOutbox

START = datetime(2026, 5, 1, 12, tzinfo=UTC)


@dataclass
class Ports:
    repository: object
    outbox: object
    clock: FakeClock
    audit: object  # the AuditLog the repository's entries go to


@pytest.fixture(params=["twin", "sqlite", "postgresql"])
def ports(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = FakeClock(START)
    if request.param == "twin":
        outbox = InMemoryWebhookOutbox(clock)
        repository = InMemoryRecordingRepository(outbox)
        yield Ports(repository, outbox, clock, repository.audit)
        return
    if request.param == "sqlite":
        target = tmp_path / "contract.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
        url = f"sqlite:///{target}"
    else:
        template = request.getfixturevalue("migrated_postgres_template")
        cluster = request.getfixturevalue("postgres")
        url = cluster.create_database(f"k_{uuid.uuid4().hex[:12]}", template=template)
    engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
    yield Ports(
        SqlRecordingRepository(engine), SqlWebhookOutbox(engine, clock), clock,
        SqlAuditLog(engine),
    )  # fmt: skip
    engine.dispose()


def recording(n: int, at: datetime = START) -> Recording:
    return Recording.new(
        id=f"{n:032x}", filename=f"talk{n}.wav",
        info=AudioInfo("wav", "audio/wav", "wav", "pcm_s16le", 12.5, 16000, 1),
        size_bytes=1000 + n, sha256="0" * 64, now=at, retention_days=30,
        original_path=f"recordings/{n}/original.wav",
    )  # fmt: skip


def delivery(rec: Recording, url: str, at: datetime) -> Delivery:
    return Delivery(
        uuid.uuid4().hex, rec.id, "recording.done", url, b"{}", 0, at, at,
    )  # fmt: skip


def test_a_recording_reads_back_as_it_was_stored(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    found = ports.repository.get(rec.id)
    assert found == rec
    assert ports.repository.get("f" * 32) is None
    assert ports.repository.version(rec.id) == rec.updated_at
    assert ports.repository.find_variant(rec.id, VariantName.ORIGINAL).variant.path == (
        "recordings/1/original.wav"
    )
    assert ports.repository.find_variant(rec.id, VariantName.ARCHIVE).variant is None


def test_a_hold_and_a_delete_are_recorded_with_the_change_itself(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec, audit=AuditEntry(START, "ops", Action.UPLOAD, rec.id, {"n": 1}))
    hold = Hold("dispute", START, "ops")
    entry = AuditEntry(START, "ops", Action.HOLD, rec.id, {"reason": "dispute"})
    assert ports.repository.set_hold(rec.id, hold, START, audit=entry)
    assert ports.repository.get(rec.id).hold == hold
    assert not ports.repository.set_hold("f" * 32, hold, START, audit=entry)  # nothing recorded
    assert ports.repository.delete(rec.id, audit=replace(entry, action=Action.DELETE))
    assert not ports.repository.delete(rec.id, audit=replace(entry, action=Action.DELETE))
    assert [e.action for e in ports.audit.page(limit=10)] == ["delete", "hold", "upload"]
    assert first_break(ports.audit.stored(), ports.audit.head()) is None


def test_an_original_is_due_once_archived_finished_and_not_held(ports: Ports) -> None:
    rec, other = recording(1), recording(2, START + timedelta(days=1))
    for r in (rec, other):
        ports.repository.add(r)
    entry = AuditEntry(START, "local", Action.ORIGINAL_REMOVED, rec.id, {})
    later = START + timedelta(days=10)
    assert ports.repository.originals_due(later, 10) == []  # not archived, not finished
    for r in (rec, other):
        archive = Variant(VariantName.ARCHIVE, f"recordings/{r.id}/archive.m4a", "audio/mp4", 9,
                          "a" * 64)  # fmt: skip
        done = Stage(StageName.ARCHIVE, StageStatus.DONE, START, START, None, 1)
        ports.repository.save_stage(r.id, done, variant=archive, now=START)
        ports.repository.set_status(r.id, RecordingStatus.DONE, START)
    assert ports.repository.originals_due(later, 10) == [rec.id, other.id]
    assert ports.repository.originals_due(START + timedelta(hours=1), 10) == [rec.id]
    ports.repository.set_hold(other.id, Hold("x", START, "ops"), START, audit=entry)
    assert ports.repository.originals_due(later, 10) == [rec.id]
    assert (
        ports.repository.remove_original(rec.id, later, audit=entry)
        == rec.variants[VariantName.ORIGINAL].path
    )
    assert ports.repository.remove_original(rec.id, later, audit=entry) is None
    assert ports.repository.remove_original(other.id, later, audit=entry) is None  # held
    found = ports.repository.get(rec.id)
    assert VariantName.ORIGINAL not in found.variants and found.original_removed_at == later
    assert ports.repository.originals_due(later, 10) == []


def test_versions_are_newest_first_and_paged_without_repeats(ports: Ports) -> None:
    for n in range(5):
        ports.repository.add(recording(n, START + timedelta(minutes=n)))
    first = ports.repository.versions(limit=2)
    assert [i for i, _ in first.items] == [f"{4:032x}", f"{3:032x}"]
    seen, cursor = [], None
    while True:
        page = ports.repository.versions(limit=2, cursor=cursor)
        seen += [i for i, _ in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == [f"{n:032x}" for n in reversed(range(5))]
    queued = ports.repository.versions(limit=10, status=RecordingStatus.QUEUED)
    assert len(queued.items) == 5
    assert ports.repository.versions(limit=10, status=RecordingStatus.DONE).items == []


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (Order.OLDEST, [0, 1, 2, 3, 4]),
        (Order.LONGEST, [3, 4, 1, 0, 2]),  # equal lengths: the later id first
        (Order.SHORTEST, [2, 0, 1, 4, 3]),  # equal lengths: the earlier id first
        (Order.TITLE, [4, 0, 1, 2, 3]),  # by title, else by file name, A to Z, any case
    ],
)
def test_a_list_in_another_order_pages_through_all_of_it_once(
    ports: Ports, order: Order, expected: list[int]
) -> None:
    lengths = [10.0, 30.0, 5.0, 60.0, 30.0]
    titles = ["b-side", "Bz", None, "zz", "A"]  # recording 2 is "talk2.wav"
    for n, (length, title) in enumerate(zip(lengths, titles, strict=True)):
        rec = replace(recording(n, START + timedelta(minutes=n)), duration_s=length, title=title)
        ports.repository.add(rec)
    seen, cursor = [], None
    while True:
        page = ports.repository.versions(limit=2, cursor=cursor, order=order)
        seen += [int(i, 16) for i, _ in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == expected
    queued = ports.repository.versions(limit=10, status=RecordingStatus.QUEUED, order=order)
    assert [int(i, 16) for i, _ in queued.items] == expected


def test_a_stage_saves_what_it_made_and_moves_the_version(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    later = START + timedelta(seconds=30)
    archive = Variant(VariantName.ARCHIVE, "recordings/1/archive.m4a", "audio/mp4", 99, "a" * 64)
    done = Stage(StageName.ARCHIVE, StageStatus.DONE, START, later, None, 1)
    assert ports.repository.save_stage(rec.id, done, variant=archive, now=later)
    transcript = Transcript(
        "Hello there.", "en", [Segment(0.0, 1.0, "Hello there.", "S1")],
        [Word("Hello", 0.0, 0.4), Word("there.", 0.5, 1.0)],
    )  # fmt: skip
    speech = Stage(StageName.TRANSCRIBE, StageStatus.DONE, START, later, None, 1)
    assert ports.repository.save_stage(rec.id, speech, transcript=transcript, now=later)
    found = ports.repository.get(rec.id)
    assert found.updated_at == later and ports.repository.version(rec.id) == later
    assert found.stages[StageName.ARCHIVE] == done
    assert found.variants[VariantName.ARCHIVE] == archive
    assert found.transcript == "Hello there." and found.segments == transcript.segments
    assert ports.repository.words(rec.id) == transcript.words
    assert ports.repository.get(rec.id, segments=False).segments == []
    running = Stage(StageName.SUMMARIZE, StageStatus.RUNNING, later, None, None, 1)
    ports.repository.save_stage(rec.id, running, summary="ignored", now=later)
    assert ports.repository.get(rec.id).summary is None  # kept only by a summary that is done
    assert ports.repository.delete(rec.id)
    assert not ports.repository.save_stage(rec.id, done, now=later)  # gone: nothing saved


def test_a_transcription_under_way_stores_window_by_window_once(ports: Ports) -> None:
    """Each window's text is readable as soon as it is stored; a window stored again (a resumed
    transcription) replaces itself, never doubles; the finished transcript ends it."""
    rec = recording(1)
    ports.repository.add(rec)
    first = TranscribedWindow(0.0, 300.0, "en", [Segment(1.0, 4.0, "Good morning.")],
                              [Word("Good", 1.0, 2.0), Word("morning.", 2.0, 4.0)])  # fmt: skip
    second = TranscribedWindow(300.0, 420.5, "en", [Segment(301.0, 303.0, "Thank you.")])
    later = START + timedelta(seconds=60)
    assert ports.repository.save_window(rec.id, first, later)
    found = ports.repository.get(rec.id)
    assert (found.transcript, found.transcribed_s, found.language) == ("Good morning.", 300.0, "en")
    assert found.updated_at == later and ports.repository.words(rec.id) == first.words
    assert ports.repository.get(rec.id, segments=False).transcribed_s == 300.0  # as listed
    for _ in range(2):  # the second window, stored again after a restart: once
        assert ports.repository.save_window(rec.id, second, later)
    found = ports.repository.get(rec.id)
    assert found.segments == first.segments + second.segments
    assert found.transcript == "Good morning. Thank you." and found.transcribed_s == 420.5
    assert ports.repository.save_window(rec.id, first, later)  # from the start again
    assert ports.repository.get(rec.id).segments == first.segments
    final = Transcript.from_parts([Segment(1.0, 4.0, "Good morning.", "S1")], "en")
    speech = Stage(StageName.TRANSCRIBE, StageStatus.DONE, START, later, None, 1)
    assert ports.repository.save_stage(rec.id, speech, transcript=final, now=later)
    found = ports.repository.get(rec.id)
    assert found.transcribed_s is None and found.segments == final.segments
    assert ports.repository.delete(rec.id)
    assert not ports.repository.save_window(rec.id, first, later)  # gone: nothing saved


def test_a_correction_keeps_the_machines_transcript_and_reopens_the_summary(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    later = START + timedelta(seconds=30)
    heard = Transcript(
        "Hello there. Bye.", "en",
        [Segment(0.0, 1.0, "Hello there.", "S1"), Segment(1.0, 2.0, "Bye.", "S1")],
        [Word("Hello", 0.0, 0.4, "S1"), Word("there.", 0.5, 1.0, "S1"), Word("Bye.", 1.0, 2.0, "S1")],
    )  # fmt: skip
    for name in StageName:
        stage = Stage(name, StageStatus.DONE, START, later, None, 1)
        ports.repository.save_stage(rec.id, stage, transcript=heard if name == "transcribe" else None, summary="hi", now=later)  # fmt: skip
    ports.repository.set_status(rec.id, RecordingStatus.DONE, later)
    assert ports.repository.machine_segments(rec.id) is None  # not corrected yet

    def hello_you(stored: Transcript, machine: Transcript) -> Transcript:
        assert stored == machine == replace(heard, waveform=None)
        segments = [replace(stored.segments[0], text="Hello you."), stored.segments[1]]
        return Transcript.from_parts(segments, "en", [stored.words[0], Word("you.", 0.5, 1.0)])

    woken: list[object] = []
    now = later + timedelta(seconds=1)
    assert ports.repository.correct(rec.id, hello_you, now, then=woken.append).text == (
        "Hello you. Bye."
    )
    found = ports.repository.get(rec.id)
    assert found.transcript == "Hello you. Bye." and found.segments[0].text == "Hello you."
    assert found.updated_at == now and found.status == RecordingStatus.QUEUED and len(woken) == 1
    assert found.stages[StageName.SUMMARIZE].status == StageStatus.PENDING
    assert found.stages[StageName.ARCHIVE].status == StageStatus.DONE
    assert [w.word for w in ports.repository.words(rec.id)] == ["Hello", "you."]
    assert ports.repository.machine_segments(rec.id) == heard.segments

    def refused(stored: Transcript, machine: Transcript) -> Transcript:
        assert machine.segments == heard.segments and stored.text == "Hello you. Bye."
        raise ValueError("a change that fails stores nothing")

    with pytest.raises(ValueError):
        ports.repository.correct(rec.id, refused, now + timedelta(seconds=1))
    assert ports.repository.get(rec.id) == found
    assert ports.repository.correct("f" * 32, hello_you, now) is None


def test_a_status_change_queues_its_deliveries_once(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    later = START + timedelta(minutes=1)
    events = [delivery(rec, "https://a.example/hook", later)]
    ports.repository.set_status(rec.id, RecordingStatus.DONE, later, deliveries=events)
    again = [delivery(rec, "https://b.example/hook", later)]
    ports.repository.set_status(rec.id, RecordingStatus.DONE, later, deliveries=again)
    assert [d.url for d in ports.outbox.of_recording(rec.id)] == ["https://a.example/hook"]
    assert ports.repository.count_by_status()[RecordingStatus.DONE] == 1
    assert ports.repository.get(rec.id).updated_at == later


def test_only_a_failed_recording_reopens_and_only_its_failed_stages(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    later = START + timedelta(minutes=1)
    assert not ports.repository.reopen(rec.id, later)  # queued, not failed
    done = Stage(StageName.ARCHIVE, StageStatus.DONE, START, later, None, 1)
    failed = Stage(StageName.ECHO, StageStatus.FAILED, START, later, "FFmpeg failed", 3)
    for stage in (done, failed):
        ports.repository.save_stage(rec.id, stage, now=later)
    ports.repository.set_status(rec.id, RecordingStatus.FAILED, later)
    woken = []
    assert ports.repository.reopen(rec.id, later, then=woken.append)
    assert len(woken) == 1  # in the same transaction
    found = ports.repository.get(rec.id)
    assert found.status == RecordingStatus.QUEUED
    assert found.stages[StageName.ARCHIVE] == done
    assert found.stages[StageName.ECHO].status == StageStatus.PENDING
    assert found.stages[StageName.ECHO].started_at is None


def test_a_delete_takes_the_recording_and_its_deliveries(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    ports.repository.set_status(
        rec.id, RecordingStatus.DONE, START, deliveries=[delivery(rec, "https://a.example", START)]
    )
    assert ports.repository.delete(rec.id)
    assert ports.repository.get(rec.id) is None and ports.outbox.of_recording(rec.id) == []
    assert ports.outbox.claim(30) is None  # a pending delivery is not sent
    assert not ports.repository.delete(rec.id)
    assert not ports.repository.save_speaker_names(rec.id, {"S1": "Alice"}, START)


def test_deliveries_are_claimed_oldest_first_leased_retried_and_resent(ports: Ports) -> None:
    rec = recording(1)
    ports.repository.add(rec)
    first = delivery(rec, "https://a.example", START)
    second = replace(delivery(rec, "https://b.example", START), created_at=START + timedelta(1))
    second = replace(second, next_attempt_at=START + timedelta(seconds=60))
    ports.repository.set_status(rec.id, RecordingStatus.DONE, START, deliveries=[first, second])
    claimed = ports.outbox.claim(lease_s=30)
    assert claimed.id == first.id and claimed.attempts == 1
    assert ports.outbox.claim(lease_s=30) is None  # the second is not due yet; the first is held
    ports.clock.advance(31)  # the lease runs out: the first is due again, the second not yet
    again = ports.outbox.claim(lease_s=30)
    assert again.id == first.id and again.attempts == 2
    ports.outbox.retry(first.id, "503", START + timedelta(hours=1))
    assert ports.outbox.claim(lease_s=30) is None
    ports.clock.advance(30)
    assert ports.outbox.claim(lease_s=30).id == second.id
    ports.outbox.delivered(second.id)
    ports.outbox.give_up(first.id, "gave up")
    statuses = {d.url: (d.status, d.last_error) for d in ports.outbox.of_recording(rec.id)}
    assert statuses == {
        "https://a.example": ("failed", "gave up"),
        "https://b.example": ("delivered", None),
    }
    resent = ports.outbox.resend(rec.id, first.id)
    assert resent.status == "pending" and resent.attempts == 0
    assert ports.outbox.resend("f" * 32, first.id) is None
    assert ports.outbox.claim(lease_s=30).id == first.id
