"""GET /api/v1/recordings?q=: matches best first, each with its passage, highlights and the
segment's start; combined with status and the cursor; no query is ever a 500."""

from __future__ import annotations

import pytest

from audiodas.domain import Segment, Transcript
from tests.api.conftest import API, store_transcript, upload
from tests.support import assert_error


def transcribed(client, path, lines: list[str]) -> str:  # type: ignore[no-untyped-def]
    """An uploaded recording whose transcript says `lines`, one segment each 5 s."""
    rid = upload(client, path).json()["id"]
    segments = [Segment(5.0 * i, 5.0 * i + 4.5, line) for i, line in enumerate(lines)]
    store_transcript(client, rid, Transcript.from_parts(segments, "en"))
    return rid


@pytest.fixture
def library(client, audio_files) -> dict[str, str]:
    wav = audio_files["short_mp3"]
    return {
        "despair": transcribed(client, wav, [
            "It was the best of times.", "It was the winter of despair.", "We had everything.",
        ]),
        "hope": transcribed(client, wav, ["It was the spring of hope.", "Despair came later."]),
        "other": transcribed(client, wav, ["Nothing about seasons here."]),
    }  # fmt: skip


def test_a_search_answers_matches_with_their_passage_and_time(client, library) -> None:
    r = client.get(API, params={"q": "winter despair"})
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["id"] == library["despair"] and item["filename"] == "beckett.mp3"
    match = item["match"]
    assert match["field"] == "transcript" and match["start_s"] == 5.0
    assert match["text"] == "It was the winter of despair."
    assert [match["text"][a:b] for a, b in match["highlights"]] == ["winter", "despair"]
    assert "signed_url" in item["variants"]["original"]  # an item as listed, playable

    both = client.get(API, params={"q": "despair"}).json()["items"]
    assert {i["id"] for i in both} == {library["despair"], library["hope"]}
    assert client.get(API, params={"q": "despair", "status": "done"}).json()["items"] == []


def test_search_pages_with_its_own_cursor(client, library) -> None:
    first = client.get(API, params={"q": "despair", "limit": 1}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(API, params={"q": "despair", "limit": 1, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert second.json()["items"][0]["id"] != first["items"][0]["id"]
    listed = client.get(API, params={"limit": 1}).json()["next_cursor"]
    assert_error(client.get(API, params={"q": "despair", "cursor": listed}), 400, "invalid_cursor")


@pytest.mark.parametrize(
    "q",
    ['"despair', "despair)", "despair*", "NOT despair", "despair\x00\x07", "d\u00e9sespoir",
     "despair " * 60, '"" despair ""', "\u202edespair", "\U0001f600 despair"],
)  # fmt: skip
def test_hostile_queries_are_plain_words(client, library, q: str) -> None:
    r = client.get(API, params={"q": q})
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"]} <= {library["despair"], library["hope"]}


@pytest.mark.parametrize("q", ["", "?!", "x" * 10_000, " ".join(f"w{i}" for i in range(17))])
def test_a_query_without_words_or_too_big_is_400(client, library, q: str) -> None:
    assert_error(client.get(API, params={"q": q}), 400, "invalid_field")


def test_the_json_transcript_gives_each_segments_words_and_times(client, audio_files) -> None:
    from audiodas.domain.transcript import Word

    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    segments = [Segment(0.0, 2.0, "Ever tried."), Segment(2.5, 4.0, "Ever failed.")]
    words = [Word("Ever", 0.0, 0.4), Word("tried.", 0.5, 1.9), Word("Ever", 2.5, 2.9),
             Word("failed.", 3.0, 3.9)]  # fmt: skip
    store_transcript(client, rid, Transcript.from_parts(segments, "en", words))
    body = client.get(f"{API}/{rid}/transcript", params={"format": "json"}).json()
    assert [[w["word"] for w in s["words"]] for s in body["segments"]] == [
        ["Ever", "tried."], ["Ever", "failed."],
    ]  # fmt: skip
    assert body["segments"][1]["words"][1] == {
        "word": "failed.",
        "start": 3.0,
        "end": 3.9,
        "speaker": None,  # not diarized
    }
