"""Speaker labels through the API: the JSON transcript, SRT and VTT carry them, a user names
them per recording, and the upload's `speakers` count is checked and kept."""

from __future__ import annotations

import pytest

from audiodas.domain import Segment, Transcript
from audiodas.domain.transcript import Word
from tests.api.conftest import API, snapshot, store_transcript, upload
from tests.support import assert_error

LINES = [
    Segment(0.0, 1.4, "Do you hear me?", "S1"),
    Segment(1.6, 1.9, "Yes.", "S2"),
    Segment(2.6, 3.7, "Do you hear me?", "S1"),
]
WORDS = [Word("Do", 0.0, 0.3, "S1"), Word("Yes.", 1.6, 1.9, "S2")]


@pytest.fixture
def dialogue(client, audio_files) -> str:
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    store_transcript(client, rid, Transcript.from_parts(LINES, "en", WORDS))
    return rid


def test_the_transcript_carries_each_segments_speaker(client, dialogue) -> None:
    body = client.get(f"{API}/{dialogue}/transcript", params={"format": "json"}).json()
    assert [s["speaker"] for s in body["segments"]] == ["S1", "S2", "S1"]
    assert body["speakers"] == [{"id": "S1", "name": None}, {"id": "S2", "name": None}]
    assert body["segments"][1]["words"] == [
        {"word": "Yes.", "start": 1.6, "end": 1.9, "speaker": "S2"}
    ]
    srt = client.get(f"{API}/{dialogue}/transcript", params={"format": "srt"}).text
    assert "00:00:01,600 --> 00:00:01,900\nS2: Yes.\n" in srt
    vtt = client.get(f"{API}/{dialogue}/transcript", params={"format": "vtt"}).text
    assert "00:00:00.000 --> 00:00:01.400\n<v S1>Do you hear me?\n" in vtt


def test_the_list_and_the_recording_say_who_speaks(client, dialogue, audio_files) -> None:
    """The library's speakers column: labels in order of first appearance, with their names,
    read without the transcript; none before transcription."""
    untranscribed = upload(client, audio_files["short_mp3"]).json()
    assert untranscribed["speakers"] == []
    client.put(f"{API}/{dialogue}/speakers", json={"S2": "Nell"})
    listed = {r["id"]: r["speakers"] for r in client.get(API).json()["items"]}
    assert listed[dialogue] == [{"id": "S1", "name": None}, {"id": "S2", "name": "Nell"}]
    assert listed[untranscribed["id"]] == []
    assert client.get(f"{API}/{dialogue}").json()["speakers"] == listed[dialogue]
    # A turn moved to a new voice by a correction: the list follows.
    moved = {"segments": [{"id": 1, "speaker": "S3"}]}
    assert client.patch(f"{API}/{dialogue}/transcript", json=moved).status_code == 200
    listed = {r["id"]: r["speakers"] for r in client.get(API).json()["items"]}
    assert [s["id"] for s in listed[dialogue]] == ["S1", "S3"]


def test_named_speakers_are_kept_and_used_in_exports(client, dialogue) -> None:
    named = client.put(f"{API}/{dialogue}/speakers", json={"S1": "Nagg", "S2": "Nell <3"})
    assert named.status_code == 200, named.text
    assert named.json()["speakers"] == [
        {"id": "S1", "name": "Nagg"},
        {"id": "S2", "name": "Nell <3"},
    ]
    body = client.get(f"{API}/{dialogue}/transcript", params={"format": "json"}).json()
    assert body["speakers"][0] == {"id": "S1", "name": "Nagg"}
    assert [s["speaker"] for s in body["segments"]] == ["S1", "S2", "S1"]  # labels stay
    srt = client.get(f"{API}/{dialogue}/transcript", params={"format": "srt"}).text
    # SRT has no escapes: "<" is shown as its look-alike, never read as a tag.
    assert "Nagg: Do you hear me?" in srt and "Nell ‹3: Yes." in srt
    vtt = client.get(f"{API}/{dialogue}/transcript", params={"format": "vtt"}).text
    assert "<v Nell &lt;3>Yes." in vtt  # escaped: the name cannot close the span

    # One name changed, one taken back; the other kept.
    again = client.put(f"{API}/{dialogue}/speakers", json={"S2": ""}).json()
    assert again["speakers"] == [{"id": "S1", "name": "Nagg"}, {"id": "S2", "name": None}]
    assert "S2: Yes." in client.get(f"{API}/{dialogue}/transcript?format=srt").text


@pytest.mark.parametrize(
    ("names", "status"),
    [
        ({"S9": "Nobody"}, 400),  # no such label
        ({"S1": "x" * 65}, 400),  # too long
        (["S1", "Nagg"], 422),  # not an object
        ({"S1": 3}, 422),  # not a name
    ],
)
def test_bad_names_are_refused_and_nothing_changes(client, dialogue, names, status) -> None:
    client.put(f"{API}/{dialogue}/speakers", json={"S1": "Nagg"})
    answer = client.put(f"{API}/{dialogue}/speakers", json=names)
    assert answer.status_code == status
    assert answer.json()["error"]
    body = client.get(f"{API}/{dialogue}/transcript", params={"format": "json"}).json()
    assert body["speakers"] == [{"id": "S1", "name": "Nagg"}, {"id": "S2", "name": None}]


def test_naming_before_the_transcript_is_409_and_unknown_is_404(client, audio_files) -> None:
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    assert_error(client.put(f"{API}/{rid}/speakers", json={"S1": "A"}), 409, "variant_not_ready")
    assert_error(client.put(f"{API}/{'0' * 32}/speakers", json={"S1": "A"}), 404, "not_found")


def test_the_speaker_count_is_checked_and_kept(client, audio_files) -> None:
    before = snapshot(client)
    for bad in ("0", "21", "two", "1.5", "-1"):
        answer = upload(client, audio_files["short_mp3"], speakers=bad)
        assert_error(answer, 400, "invalid_field")
        assert "speakers" in answer.json()["detail"]
    assert snapshot(client) == before  # nothing stored
    rid = upload(client, audio_files["short_mp3"], speakers="2").json()["id"]
    assert client.app.state.runtime.repository.get(rid).speakers == 2
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    assert client.app.state.runtime.repository.get(rid).speakers is None  # estimated
