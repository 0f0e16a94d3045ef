"""The storage layer on SQLite and on a real PostgreSQL 15."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from audiodas.adapters.database import (
    SqlRecordingRepository,
    SqlWorkQueue,
    create_engine_for,
    migrate,
    open_database,
)
from audiodas.adapters.database.awaited import awaited_reads
from audiodas.adapters.database.connect import MIGRATIONS
from audiodas.adapters.database.work_queue import Claim
from audiodas.adapters.local_bus import LocalBus
from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    DatabaseUnavailable,
    Recording,
    RecordingStatus,
    Rejected,
    Segment,
    Stage,
    StageName,
    StageStatus,
    Transcript,
    Variant,
    VariantName,
)
from audiodas.testing import FakeClock
from tests.support import PostgresCluster

INFO = AudioInfo("wav", "audio/wav", "wav", "pcm_s16le", 12.5, 16000, 1)


def make(n: int, created: datetime) -> Recording:
    return Recording.new(
        id=f"{n:032x}",
        filename=f"clip{n}.wav",
        info=INFO,
        size_bytes=1000 + n,
        sha256="ab" * 32,
        now=created,
        retention_days=1826,
        original_path=f"recordings/{n:032x}/original.wav",
        domain="economics",
    )


def test_migrations_build_the_schema_from_an_empty_database(database_url: str) -> None:
    engine = create_engine_for(Settings(database_url=database_url).sqlalchemy_url)
    assert inspect(engine).get_table_names() == []
    migrate(engine)
    migrate(engine)  # idempotent: a second start-up changes nothing
    tables = set(inspect(engine).get_table_names())
    assert {"recordings", "stages", "variants", "api_keys", "alembic_version"} <= tables
    # procrastinate's queue on PostgreSQL only
    assert ("procrastinate_jobs" in tables) == (engine.dialect.name == "postgresql")
    newest = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == newest
    engine.dispose()


def test_recordings_stored_before_lists_showed_speakers_show_them(database_url: str) -> None:
    """Migration 0014 keeps each transcript's speakers beside it for the list, for the library
    it finds (here: taken down to 0013 and back up)."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine_for(Settings(database_url=database_url).sqlalchemy_url)
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    talk = make(1, datetime(2026, 5, 1, tzinfo=UTC))
    silent = make(2, datetime(2026, 5, 2, tzinfo=UTC))
    repository.add(talk)
    repository.add(silent)
    lines = [Segment(0, 1, "Hello.", "S2"), Segment(1, 2, "Hi.", "S1"), Segment(2, 3, "Bye.", "S2")]
    done = Stage(StageName.TRANSCRIBE, StageStatus.DONE, None, None, None, 1)
    now = datetime(2026, 5, 3, tzinfo=UTC)
    repository.save_stage(talk.id, done, transcript=Transcript.from_parts(lines, "en"), now=now)
    assert repository.get_many([talk.id])[0].speakers_heard == ["S2", "S1"]  # as listed
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
        command.upgrade(config, "head")
    listed = {r.id: r.speakers_heard for r in repository.get_many([talk.id, silent.id])}
    assert listed == {talk.id: ["S2", "S1"], silent.id: []}
    engine.dispose()


def test_every_order_of_the_list_reads_an_index(tmp_path) -> None:
    """SQLite walks an index for each order of the list instead of sorting the table."""
    from audiodas.adapters.database.repository import versions_query
    from audiodas.domain.repository import Order

    engine = create_engine_for(f"sqlite:///{tmp_path / 'plans.db'}")
    migrate(engine)
    with engine.connect() as connection:
        for order in Order:
            query = versions_query(limit=50, cursor=None, status=None, order=order)
            compiled = query.statement.compile(engine)
            values = {**compiled.params, **query.params}
            values = tuple(values[name] for name in compiled.positiontup or ())
            plan = [
                row[-1]
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
            ]
            assert not [step for step in plan if "TEMP B-TREE" in step], (order, plan)
    engine.dispose()


def test_nodes_starting_together_migrate_once(database_url: str) -> None:
    """An API's processes and two workers started at once on an empty database all come up."""
    engines = [
        create_engine_for(Settings(database_url=database_url).sqlalchemy_url) for _ in range(6)
    ]
    with ThreadPoolExecutor(len(engines)) as pool:
        list(pool.map(migrate, engines))  # raises if any start-up failed
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    for engine in engines:
        engine.dispose()


def test_a_process_starting_before_its_database_waits_for_it(tmp_path, postgres) -> None:
    """compose starts the API and the workers beside PostgreSQL: a server that answers a moment
    later (or whose name a container network resolves a moment later) is waited for, not a
    start-up failure that restarts the container."""
    cluster = PostgresCluster().start()
    try:
        cluster.pause()
        threading.Timer(1.5, cluster.resume).start()
        settings = Settings(data_dir=tmp_path, database_url=cluster.url())
        started = time.monotonic()
        engine = open_database(settings)
        assert time.monotonic() - started >= 1.0
        assert "recordings" in inspect(engine).get_table_names()  # migrated once it answered
        engine.dispose()
    finally:
        cluster.stop()


def test_a_database_that_never_answers_fails_the_start_after_the_wait(tmp_path, postgres) -> None:
    cluster = PostgresCluster().start()
    cluster.stop()  # its port now has nothing behind it
    settings = Settings(data_dir=tmp_path, database_url=cluster.url(), database_wait_s=1.0)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="connect"):
        open_database(settings)
    assert 1.0 <= time.monotonic() - started < 10


def test_round_trip_keeps_every_field(repository: SqlRecordingRepository) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    rec = make(1, created)
    repository.add(rec)
    got = repository.get(rec.id)
    assert got == rec
    assert got.created_at.tzinfo is not None
    assert got.retention_until == created + timedelta(days=1826)
    assert repository.get("f" * 32) is None


def test_pages_newest_first_and_filter(repository: SqlRecordingRepository) -> None:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    # Two share a timestamp: the cursor must still neither skip nor repeat.
    stamps = [base, base + timedelta(seconds=1), base + timedelta(seconds=1), base + timedelta(2)]
    for n, stamp in enumerate(stamps):
        repository.add(make(n, stamp))
    seen, cursor = [], None
    while True:
        page = repository.versions(limit=1, cursor=cursor)
        seen += [i for i, _ in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"{n:032x}" for n in (3, 2, 1, 0)]
    assert len(repository.versions(limit=10, status=RecordingStatus.QUEUED).items) == 4
    assert repository.versions(limit=10, status=RecordingStatus.DONE).items == []
    assert repository.count_by_status()[RecordingStatus.QUEUED] == 4
    assert sorted(r.id for r in repository.get_many(seen)) == sorted(seen)
    with pytest.raises(Rejected):
        repository.versions(limit=1, cursor="%%%")


def test_awaited_reads_answer_as_the_repository_does(repository: SqlRecordingRepository) -> None:
    """What the API awaits (on PostgreSQL, on connections of its own) must equal the
    repository's answers: its cached renderings are keyed by these versions and built from
    these recordings, and a cursor from one must page on in the other."""
    base = datetime(2026, 5, 1, tzinfo=UTC)
    for n, stamp in enumerate([base, base + timedelta(seconds=1), base + timedelta(seconds=1)]):
        repository.add(make(n, stamp))
    # One worked on: stages started, done and failed (times to the microsecond, in another
    # zone), a variant made, a transcript with segments, speakers named.
    worked, later = f"{1:032x}", base + timedelta(seconds=2, microseconds=123456)
    elsewhere = later.astimezone(timezone(timedelta(hours=-5)))
    repository.save_stage(
        worked,
        Stage(StageName.ARCHIVE, StageStatus.DONE, later, later + timedelta(seconds=3), None, 1),
        variant=Variant(
            VariantName.ARCHIVE, f"recordings/{worked}/archive.m4a", "audio/mp4", 9, "cd" * 32
        ),
        now=later,
    )
    repository.save_stage(
        worked,
        Stage(StageName.TRANSCRIBE, StageStatus.DONE, elsewhere, elsewhere, None, 2),
        transcript=Transcript("hello world", "en", [Segment(0.0, 1.5, "hello world", "S1")]),
        topic={"domain": "economics", "score": 0.5},
        now=later,
    )
    repository.save_stage(
        worked, Stage(StageName.ECHO, StageStatus.FAILED, later, None, "ffmpeg: boom", 3), now=later
    )
    repository.save_speaker_names(worked, {"S1": "Ada"}, later)
    reads = awaited_reads(repository)

    async def compare() -> None:
        cursor = None
        while True:
            page = await reads.versions(limit=1, cursor=cursor)
            assert page == repository.versions(limit=1, cursor=cursor)
            (recording_id, version), *_ = page.items
            assert await reads.version(recording_id) == version
            assert version == repository.get(recording_id).updated_at
            for segments in (False, True):
                assert await reads.get(recording_id, segments=segments) == repository.get(
                    recording_id, segments=segments
                )
            if (cursor := page.next_cursor) is None:
                break
        by_status = await reads.versions(limit=10, status=RecordingStatus.DONE)
        assert by_status.items == []
        assert await reads.version("f" * 32) is None
        assert await reads.get("f" * 32, segments=False) is None
        ids = ["f" * 32, *(f"{n:032x}" for n in range(3))]
        assert sorted(await reads.get_many(ids), key=lambda r: r.id) == sorted(
            repository.get_many(ids), key=lambda r: r.id
        )
        await reads.ping()
        with pytest.raises(Rejected):
            await reads.versions(limit=1, cursor="%%%")
        await reads.close()

    asyncio.run(compare())


def test_delete_removes_the_recording_and_its_children(repository: SqlRecordingRepository) -> None:
    rec = make(7, datetime(2026, 1, 1, tzinfo=UTC))
    repository.add(rec)
    assert repository.delete(rec.id) is True
    assert repository.get(rec.id) is None
    assert repository.delete(rec.id) is False
    with repository.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM stages")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM variants")).scalar() == 0


def test_work_queue_hands_each_recording_to_one_claimer(
    repository: SqlRecordingRepository, tmp_path
) -> None:
    queue = SqlWorkQueue(repository.engine, LocalBus(tmp_path / "run"), Settings())
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(20):
        repository.add(make(n, base + timedelta(seconds=n)))

    def claim_all(worker: str) -> list[str]:
        taken = []
        while (claim := queue.claim(worker, lease_s=60)) is not None:
            taken.append(claim.recording_id)
        return taken

    with ThreadPoolExecutor(8) as pool:
        taken = [i for ids in pool.map(claim_all, [f"w{k}" for k in range(8)]) for i in ids]
    assert sorted(taken) == [f"{n:032x}" for n in range(20)]  # each once, none left out
    assert queue.claim("late", lease_s=60) is None


def test_work_queue_leases_expire_and_failures_back_off(
    repository: SqlRecordingRepository, tmp_path
) -> None:
    clock = FakeClock(datetime(2026, 3, 3, tzinfo=UTC))  # leases run out when it is moved
    queue = SqlWorkQueue(repository.engine, LocalBus(tmp_path / "run"), Settings(), clock)
    first, second = (
        make(1, datetime(2026, 3, 1, tzinfo=UTC)),
        make(2, datetime(2026, 3, 2, tzinfo=UTC)),
    )
    repository.add(first)
    repository.add(second)

    dead = queue.claim("dead-engine", lease_s=0.3)
    assert dead.recording_id == first.id  # oldest first
    clock.advance(0.5)  # its engine stopped renewing the lease
    taken = queue.claim("alive", lease_s=60)
    assert taken.recording_id == first.id
    assert queue.heartbeat(dead, lease_s=60) is False  # the dead engine learns it lost it
    assert queue.heartbeat(taken, lease_s=60) is True

    queue.fail(taken, retry_in_s=0.5)
    assert queue.claim("alive", lease_s=60).recording_id == second.id  # first is backing off
    clock.advance(0.7)
    again = queue.claim("alive", lease_s=60)
    assert again.recording_id == first.id

    repository.set_status(first.id, RecordingStatus.DONE, datetime.now(UTC))
    queue.complete(again)
    queue.complete(Claim(second.id, "alive"))
    repository.set_status(second.id, RecordingStatus.DONE, datetime.now(UTC))
    assert queue.claim("alive", lease_s=60) is None  # finished work is never handed out


def test_work_the_machine_broke_is_given_back_after_the_requeue_delay(
    repository: SqlRecordingRepository, tmp_path
) -> None:
    """A run that raises (the database or disk failed, not a stage) gives its claim back, held
    off for `requeue_after_s` so a broken machine does not spin; another engine then takes it."""
    settings = Settings(retry_backoff_s=0.125)  # requeued after 1 s
    clock = FakeClock(datetime(2026, 3, 3, tzinfo=UTC))
    queue = SqlWorkQueue(repository.engine, LocalBus(tmp_path / "run"), settings, clock)
    rec = make(1, datetime(2026, 3, 1, tzinfo=UTC))
    repository.add(rec)

    async def broken(recording_id: str) -> None:
        raise DatabaseUnavailable("disk I/O error")  # as the repository raises it

    claim = queue.claim("broken-engine", lease_s=60)
    asyncio.run(queue._run(broken, claim))
    assert queue.claim("other", lease_s=60) is None  # held off, not spun on
    clock.advance(settings.requeue_after_s + 0.2)
    assert queue.claim("other", lease_s=60).recording_id == rec.id


def test_versions_move_with_every_change(repository: SqlRecordingRepository) -> None:
    """The API's rendered-JSON cache is only as good as this: no change to a recording leaves
    its version where it was."""
    rec = make(0, datetime(2026, 4, 1, tzinfo=UTC))
    repository.add(rec)
    seen = {repository.version(rec.id)}
    stage = rec.stages[StageName.ARCHIVE]
    stage.status = StageStatus.RUNNING
    repository.save_stage(rec.id, stage, now=datetime.now(UTC))
    seen.add(repository.version(rec.id))
    repository.set_status(rec.id, RecordingStatus.PROCESSING, datetime.now(UTC))
    seen.add(repository.version(rec.id))
    assert len(seen) == 3
    assert [r.id for r in repository.get_many([rec.id, "f" * 32])] == [rec.id]
    repository.delete(rec.id)
    assert repository.version(rec.id) is None
