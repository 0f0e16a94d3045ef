"""Corrections through the API: a segment's text and speaker changed by a reader are what the
exports, the JSON transcript and search say from then on; the machine's is kept beside; a
changed text is summarized again; a bad change is refused and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from audiodas.domain import RecordingStatus, Segment, Stage, StageName, StageStatus, Transcript
from audiodas.domain.transcript import Word
from tests.api.conftest import API, store_transcript, upload
from tests.support import assert_error

LINES = [
    Segment(0.0, 1.4, "Do you hear me?", "S1"),
    Segment(1.6, 1.9, "Yes.", "S2"),
    Segment(2.6, 3.7, "Do you here me?", "S1"),
]
WORDS = [
    Word("Do", 0.0, 0.3, "S1"), Word("you", 0.3, 0.6, "S1"), Word("hear", 0.6, 0.9, "S1"),
    Word("me?", 0.9, 1.4, "S1"), Word("Yes.", 1.6, 1.9, "S2"), Word("Do", 2.6, 2.9, "S1"),
    Word("you", 2.9, 3.1, "S1"), Word("here", 3.1, 3.4, "S1"), Word("me?", 3.4, 3.7, "S1"),
]  # fmt: skip


@pytest.fixture
def dialogue(client, audio_files) -> str:
    """A recording transcribed and summarized: done."""
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    store_transcript(client, rid, Transcript.from_parts(LINES, "en", WORDS))
    now = datetime.now(UTC)
    repository = client.app.state.runtime.repository
    for name in (StageName.ARCHIVE, StageName.ECHO, StageName.SUMMARIZE):
        repository.save_stage(
            rid, Stage(name, StageStatus.DONE, now, now, None, 1), summary="hearing", now=now
        )
    repository.set_status(rid, RecordingStatus.DONE, now)
    return rid


def transcript(client, rid: str, format: str = "json"):  # type: ignore[no-untyped-def]
    answer = client.get(f"{API}/{rid}/transcript", params={"format": format})
    assert answer.status_code == 200, answer.text
    return answer.json() if format == "json" else answer.text


def test_an_edit_and_a_speaker_move_are_what_every_rendering_says(client, dialogue) -> None:
    changes = {"segments": [{"id": 2, "text": "Do you hear me, Nell?"}, {"id": 1, "speaker": "S1"}]}
    answer = client.patch(f"{API}/{dialogue}/transcript", json=changes)
    assert answer.status_code == 200, answer.text
    assert answer.json() == transcript(client, dialogue)  # answered as it now reads
    body = answer.json()
    assert body["corrected"] is True
    assert body["text"] == "Do you hear me? Yes. Do you hear me, Nell?"
    edited, moved, kept = body["segments"][2], body["segments"][1], body["segments"][0]
    assert edited["text"] == "Do you hear me, Nell?" and edited["speaker"] == "S1"
    assert edited["machine"] == {"text": "Do you here me?", "speaker": "S1"}
    assert moved["speaker"] == "S1" and moved["machine"] == {"text": "Yes.", "speaker": "S2"}
    assert "machine" not in kept
    # Times kept where the words match; the new and changed ones in the gaps they leave.
    times = [(w["word"], w["start"], w["end"]) for w in edited["words"]]
    assert times[:2] == [("Do", 2.6, 2.9), ("you", 2.9, 3.1)]
    assert [w for w, *_ in times] == ["Do", "you", "hear", "me,", "Nell?"]
    assert all(2.6 <= start <= end <= 3.7 for _, start, end in times)
    assert [w["speaker"] for w in moved["words"]] == ["S1"]

    srt, vtt = transcript(client, dialogue, "srt"), transcript(client, dialogue, "vtt")
    assert "S1: Do you hear me, Nell?" in srt and "S1: Yes." in srt and "here" not in srt
    assert "<v S1>Do you hear me, Nell?" in vtt and "<v S1>Yes." in vtt
    assert (
        transcript(client, dialogue, "txt")
        == "[0:00] S1: Do you hear me? Yes. Do you hear me, Nell?\n"
    )
    [hit] = client.get(API, params={"q": "Nell"}).json()["items"]
    assert hit["id"] == dialogue and hit["match"]["text"] == "Do you hear me, Nell?"
    assert client.get(API, params={"q": "here"}).json()["items"] == []

    # Corrected again: the machine's beside it is still the machine's.
    again = client.patch(
        f"{API}/{dialogue}/transcript", json={"segments": [{"id": 2, "text": "Hm?"}]}
    )
    assert again.json()["segments"][2]["machine"]["text"] == "Do you here me?"
    # Back to the machine's words: nothing beside it any more.
    back = {"segments": [{"id": 2, "text": "Do you here me?"}, {"id": 1, "speaker": "S2"}]}
    restored = client.patch(f"{API}/{dialogue}/transcript", json=back).json()
    assert restored["corrected"] is False and "machine" not in restored["segments"][2]
    assert restored["segments"][2]["words"][2] == {
        "word": "here", "start": 3.1, "end": 3.4, "speaker": "S1"
    }  # fmt: skip


def test_a_changed_text_is_summarized_again_a_speaker_move_is_not(client, dialogue) -> None:
    queued = client.app.state.runtime.work.enqueued
    before = len(queued)
    client.patch(f"{API}/{dialogue}/transcript", json={"segments": [{"id": 1, "speaker": "S1"}]})
    rec = client.get(f"{API}/{dialogue}").json()
    assert rec["status"] == "done" and len(queued) == before

    client.patch(f"{API}/{dialogue}/transcript", json={"segments": [{"id": 1, "text": "No."}]})
    rec = client.get(f"{API}/{dialogue}").json()
    stages = {s["name"]: s["status"] for s in rec["stages"]}
    assert rec["status"] == "queued" and queued[before:] == [dialogue]
    assert stages == {
        "archive": "done",
        "echo": "done",
        "transcribe": "done",
        "summarize": "pending",
    }


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"segments": [{"id": 3, "text": "Nobody"}]}, 404, "not_found"),  # no segment 3
        ({"segments": [{"id": -1, "text": "Nobody"}]}, 404, "not_found"),
        ({"segments": [{"id": 0, "text": "  "}]}, 400, "invalid_field"),  # emptied
        ({"segments": [{"id": 0, "text": "\x00\x07"}]}, 400, "invalid_field"),  # no text
        ({"segments": [{"id": 0, "text": "\ud800"}]}, 400, "malformed_body"),  # not UTF-8
        ({"segments": [{"id": 0, "text": "x" * 2001}]}, 400, "invalid_field"),
        (
            {"segments": [{"id": 0, "speaker": "Nell"}]},
            400,
            "invalid_field",
        ),  # a name: PUT speakers
        ({"segments": [{"id": 0, "speaker": "S21"}]}, 400, "invalid_field"),
        # A good change beside a bad one: neither is made.
        ({"segments": [{"id": 0, "text": "Hm."}, {"id": 9, "text": "x"}]}, 404, "not_found"),
        ({"segments": [{"id": 0}]}, 422, "invalid_request"),  # nothing to change
        ({"segments": [{"id": "0", "text": "Hm."}]}, 422, "invalid_request"),
        ({"segments": []}, 422, "invalid_request"),
        ([{"id": 0, "text": "Hm."}], 422, "invalid_request"),
    ],
)
def test_a_bad_change_is_refused_and_changes_nothing(
    client, dialogue, changes, status, error
) -> None:
    before = transcript(client, dialogue)
    body = json.dumps(changes)  # escaped: a lone surrogate is sent as a client could send it
    answer = client.patch(
        f"{API}/{dialogue}/transcript", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(answer, status, error)
    assert transcript(client, dialogue) == before
    assert client.get(f"{API}/{dialogue}").json()["status"] == "done"


def test_nothing_to_correct_before_transcription(client, audio_files) -> None:
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    changes = {"segments": [{"id": 0, "text": "Hm."}]}
    assert_error(client.patch(f"{API}/{rid}/transcript", json=changes), 409, "variant_not_ready")
    assert_error(client.patch(f"{API}/{'0' * 32}/transcript", json=changes), 404, "not_found")
