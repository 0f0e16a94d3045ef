"""Search by what was said (SQLite FTS5, PostgreSQL tsvector), at the repository: what is found,
in which order, where in the recording, and that the index never goes stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from audiodas.adapters.database import SqlRecordingRepository, create_engine_for, migrate
from audiodas.adapters.database.connect import MIGRATIONS
from audiodas.domain import (
    RecordingStatus,
    Rejected,
    Segment,
    Stage,
    StageName,
    StageStatus,
    Transcript,
)
from audiodas.domain.search import parse_query
from tests.integration.test_database import make

T0 = datetime(2026, 11, 1, tzinfo=UTC)
FILLER = [
    "Welcome back to the weekly programme.",
    "We have a lot of ground to cover today.",
    "First some housekeeping about the schedule.",
    "Thanks to everyone who wrote in last week.",
]


def store(repo: SqlRecordingRepository, n: int, lines: list[str], summary: str | None = None):  # type: ignore[no-untyped-def]
    recording = make(n, T0 + timedelta(minutes=n))
    repo.add(recording)
    transcribe(repo, recording.id, lines)
    if summary:
        stage = Stage(StageName.SUMMARIZE, StageStatus.DONE, T0, T0, None, 1)
        repo.save_stage(recording.id, stage, summary=summary, now=T0)
    return recording


def transcribe(repo: SqlRecordingRepository, recording_id: str, lines: list[str]) -> None:
    segments = [Segment(10.0 * i, 10.0 * i + 9.5, line) for i, line in enumerate(lines)]
    done = Stage(StageName.TRANSCRIBE, StageStatus.DONE, T0, T0, None, 1)
    repo.save_stage(recording_id, done, transcript=Transcript.from_parts(segments, "en"), now=T0)


def find(repo: SqlRecordingRepository, q: str, **options):  # type: ignore[no-untyped-def]
    return repo.search(parse_query(q), **{"limit": 10, **options})


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.recording_id for hit in page.items]


def test_a_word_said_in_the_middle_finds_the_recording_at_that_moment(repository) -> None:
    lines = [*FILLER[:2], "Central banks raised interest rates again in March.", *FILLER[2:]]
    wanted = store(repository, 1, lines)
    store(repository, 2, FILLER)

    page = find(repository, "interest")
    assert ids(page) == [wanted.id]
    match = page.items[0].match
    assert match.field == "transcript" and match.start_s == 20.0
    assert "interest rates" in match.text
    start, end = match.highlights[0]
    assert match.text[start:end].lower() == "interest"
    # English stemming on both databases: "rate" finds "rates", "raising" finds "raised"
    assert ids(find(repository, "rate raising")) == [wanted.id]
    # every term, anywhere in the recording
    assert ids(find(repository, "interest housekeeping")) == [wanted.id]
    assert ids(find(repository, "interest zebra")) == []


def test_quoted_words_are_a_phrase(repository) -> None:
    exact = store(repository, 1, ["The interest rates went up."])
    apart = store(repository, 2, ["Rates of interest went up."])
    assert sorted(ids(find(repository, "interest rates"))) == sorted([exact.id, apart.id])
    assert ids(find(repository, '"interest rates"')) == [exact.id]
    assert ids(find(repository, '"rates interest"')) == []
    assert ids(find(repository, '"interest rates" march')) == []  # and every other term too


def test_a_better_match_ranks_first_and_pages_follow_the_ranking(repository) -> None:
    once = store(repository, 1, [*FILLER, "Inflation was mentioned once."])
    often = store(
        repository, 2,
        ["Inflation, inflation: the inflation report.", "Inflation again.", *FILLER],
    )  # fmt: skip
    middle = store(repository, 3, ["Inflation here.", *FILLER, "And inflation there."])
    store(repository, 4, FILLER)

    first = find(repository, "inflation", limit=2)
    assert ids(first) == [often.id, middle.id]
    second = find(repository, "inflation", limit=2, cursor=first.next_cursor)
    assert ids(second) == [once.id] and second.next_cursor is None


def test_filename_and_summary_are_searched_and_status_filters(repository) -> None:
    talk = store(repository, 7, FILLER, summary="Budget talk on tariffs")
    assert ids(find(repository, "clip7")) == [talk.id]  # the filename clip7.wav
    found = find(repository, "TARIFFS!")
    assert ids(found) == [talk.id] and found.items[0].match.field == "summary"
    assert ids(find(repository, "tariffs", status=RecordingStatus.DONE)) == []
    repository.set_status(talk.id, RecordingStatus.DONE, T0)
    assert ids(find(repository, "tariffs", status=RecordingStatus.DONE)) == [talk.id]


def test_a_reprocessed_recording_is_found_by_its_new_words_and_a_deleted_one_not_at_all(
    repository,
) -> None:
    r = store(repository, 1, ["The old words about shipping."])
    transcribe(repository, r.id, ["The new words about farming."])  # the stage ran again
    assert ids(find(repository, "shipping")) == []
    assert ids(find(repository, "farming")) == [r.id]
    assert repository.delete(r.id)
    assert ids(find(repository, "farming")) == []
    if repository.engine.dialect.name == "sqlite":  # PostgreSQL's index is a column of the row
        with repository.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM recordings_fts")).scalar() == 0


@pytest.mark.parametrize(
    "query",
    [
        'trade NOT tariffs', 'trade" OR "x', "minister NEAR port", "trade*", "col:trade",
        '"unbalanced trade', "trade)(", "trade\x00\x1b[31m", "^trade", "trade -tariffs",
        "'; DROP TABLE recordings; --", "trade AND", "OR", "trade & | ! <-> :*",
    ],
)  # fmt: skip
def test_operators_and_control_characters_are_plain_text(repository, query: str) -> None:
    r = store(repository, 1, ["Trade NOT tariffs, said the minister near the port."])
    found = ids(find(repository, query))
    assert found in ([r.id], [])  # no syntax error on either database
    assert ids(find(repository, "trade")) == [r.id]  # and nothing stored was touched


@pytest.mark.parametrize(
    "query", ["", "  !!! ", '+-*"()', "x" * 501, " ".join("abcdefghijklmnopq")]
)
def test_a_query_without_words_or_too_long_is_refused(query: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_query(query)
    assert refused.value.code == Rejected.INVALID_FIELD


def test_a_foreign_cursor_is_refused(repository) -> None:
    store(repository, 1, ["Exports grew."])
    store(repository, 2, ["Exports fell."])
    list_cursor = repository.versions(limit=1).next_cursor
    with pytest.raises(Rejected) as refused:
        find(repository, "exports", limit=1, cursor=list_cursor)
    assert refused.value.code == Rejected.BAD_CURSOR
    search_cursor = find(repository, "exports", limit=1).next_cursor
    with pytest.raises(Rejected):
        repository.versions(limit=1, cursor=search_cursor)


def test_an_entry_left_by_a_deletion_is_never_found_and_is_swept(tmp_path) -> None:
    """SQLite only: PostgreSQL's index is a column of the recording's row, so nothing is left."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'strays.db'}")
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    kept = store(repository, 1, ["Orchards and apples."])
    with repository.engine.begin() as connection:  # as a delete on a full disk leaves it
        connection.execute(
            text("INSERT INTO recordings_fts (rowid, recording_id, filename, summary, transcript)"
                 " VALUES (999, 'gone', 'gone.wav', '', 'apples and pears')")
        )  # fmt: skip
    assert ids(find(repository, "apples")) == [kept.id]
    assert repository.repair_search() == 1
    assert ids(find(repository, "apples")) == [kept.id]
    assert repository.repair_search() == 0
    again = store(repository, 2, ["Plums."])  # a new row may take a freed rowid: found rightly
    assert ids(find(repository, "plums")) == [again.id] and ids(find(repository, "pears")) == []


def test_recordings_stored_before_search_existed_are_found(repository) -> None:
    """Migration 0007 indexes the library it finds (here: taken down to 0006 and back up)."""
    old = store(repository, 1, ["A talk about lighthouses."], summary="Coastal safety")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with repository.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
        command.upgrade(config, "head")
    assert ids(find(repository, "lighthouses")) == [old.id]
    assert find(repository, "coastal").items[0].match.field == "summary"
    assert ids(find(repository, "clip1")) == [old.id]


def test_an_index_whose_rowids_moved_is_rebuilt(tmp_path) -> None:
    """VACUUM may renumber the rowids the SQLite index is keyed by: the hits would be other
    recordings'. An engine's start finds that and indexes everything again."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'moved.db'}")
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    first = store(repository, 1, ["Lighthouses."])
    second = store(repository, 2, ["Harbours."])
    with engine.begin() as connection:  # the two entries' rowids swapped, as a renumbering would
        connection.execute(text("UPDATE recordings_fts SET rowid = -rowid"))
        connection.execute(text("UPDATE recordings_fts SET rowid = 3 + rowid"))
    assert ids(find(repository, "lighthouses")) == []  # a wrong entry is never shown
    assert repository.repair_search() == 2
    assert ids(find(repository, "lighthouses")) == [first.id]
    assert ids(find(repository, "harbours")) == [second.id]
    assert repository.repair_search() == 0
    engine.dispose()
