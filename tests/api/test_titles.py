"""A title per recording (PATCH): kept beside the filename, searched; the names given to
speakers are searched too."""

from __future__ import annotations

import pytest

from audiodas.domain import Segment, Transcript
from tests.api.conftest import API, store_transcript, upload
from tests.support import assert_error


@pytest.fixture
def rid(client, audio_files) -> str:
    found = upload(client, audio_files["short_mp3"], "econ_talk.mp3").json()["id"]
    lines = [Segment(0.0, 2.0, "Rates went up.", "S1"), Segment(2.0, 4.0, "They did.", "S2")]
    store_transcript(client, found, Transcript.from_parts(lines, "en"))
    return found


def search(client, q: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return client.get(API, params={"q": q}).json()["items"]


def test_a_title_is_kept_beside_the_filename_and_found(client, rid) -> None:
    answer = client.patch(f"{API}/{rid}", json={"title": "  Budget\tmeeting, March "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["title"] == "Budget meeting, March"
    assert answer.json()["filename"] == "econ_talk.mp3"
    assert client.get(f"{API}/{rid}").json()["title"] == "Budget meeting, March"
    assert client.get(API).json()["items"][0]["title"] == "Budget meeting, March"
    [hit] = search(client, "budget")
    assert hit["id"] == rid and hit["match"]["field"] == "title"
    assert hit["match"]["text"] == "Budget meeting, March"

    assert client.patch(f"{API}/{rid}", json={"title": None}).json()["title"] is None
    assert search(client, "budget") == []


def test_the_names_given_to_speakers_are_found(client, rid) -> None:
    assert search(client, "finance director") == []
    client.put(f"{API}/{rid}/speakers", json={"S1": "Finance Director", "S2": "Ann"})
    [hit] = search(client, "finance director")
    assert hit["id"] == rid and hit["match"]["field"] == "speakers"
    assert "Finance Director" in hit["match"]["text"]
    assert search(client, "S1") == []  # the labels are not names


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"title": "x" * 201}, 400, "invalid_field"),
        ({"title": 5}, 422, "invalid_request"),
        ({"name": "Budget"}, 422, "invalid_request"),
        (["Budget"], 422, "invalid_request"),
    ],
)
def test_a_bad_title_is_refused_and_the_old_one_kept(client, rid, body, status, error) -> None:
    client.patch(f"{API}/{rid}", json={"title": "Budget"})
    assert_error(client.patch(f"{API}/{rid}", json=body), status, error)
    assert client.get(f"{API}/{rid}").json()["title"] == "Budget"


def test_no_title_for_a_recording_that_is_not_there(client) -> None:
    assert_error(client.patch(f"{API}/{'0' * 32}", json={"title": "x"}), 404, "not_found")


def test_exports_are_named_after_the_title_and_read_as_turns(client, rid) -> None:
    client.put(f"{API}/{rid}/speakers", json={"S1": "Finance *Director*"})
    plain = client.get(f"{API}/{rid}/transcript", params={"format": "srt"})
    assert plain.headers["content-disposition"] == 'inline; filename="econ_talk.srt"'
    client.patch(f"{API}/{rid}", json={"title": "Réunion budget"})
    named = client.get(f"{API}/{rid}/transcript", params={"format": "srt"})
    assert named.headers["content-disposition"] == (
        "inline; filename=\"R_union budget.srt\"; filename*=UTF-8''R%C3%A9union%20budget.srt"
    )
    txt = client.get(f"{API}/{rid}/transcript", params={"format": "txt"}).text
    assert txt == "[0:00] Finance *Director*: Rates went up.\n[0:02] S2: They did.\n"
    md = client.get(f"{API}/{rid}/transcript", params={"format": "md"})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.text.startswith("# Réunion budget\n\n*econ\\_talk.mp3 · ")
    # A name is text, never markup: its asterisks are escaped.
    assert "**Finance \\*Director\\*** [0:00]: Rates went up." in md.text
    assert "**S2** [0:02]: They did." in md.text
    docx = client.get(f"{API}/{rid}/transcript", params={"format": "docx"})
    assert docx.status_code == 200 and docx.content[:2] == b"PK"  # a zip: the Word format
    assert "attachment;" in docx.headers["content-disposition"]
