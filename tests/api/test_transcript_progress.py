"""A transcription under way, through the API: each stored window's text is readable and
searchable at once, with how far it has come; the files made of the transcript, corrections and
names wait for the whole of it."""

from __future__ import annotations

from datetime import UTC, datetime

from audiodas.domain import Segment, Stage, StageName, StageStatus, Transcript
from audiodas.domain.transcript import TranscribedWindow, Word
from tests.api.conftest import API, store_transcript, upload
from tests.support import assert_error

FIRST = TranscribedWindow(
    0.0, 2.0, "en", [Segment(0.1, 1.5, "Zeppelins over the harbour.")],
    [Word("Zeppelins", 0.1, 0.8), Word("over", 0.8, 1.0)],
)  # fmt: skip


def transcribing(client, audio_files) -> dict:  # type: ignore[no-untyped-def]
    """An upload whose transcription is running and has stored its first window."""
    rec = upload(client, audio_files["short_mp3"]).json()
    repository = client.app.state.runtime.repository
    now = datetime.now(UTC)
    running = Stage(StageName.TRANSCRIBE, StageStatus.RUNNING, now, None, None, 1)
    repository.save_stage(rec["id"], running, now=now)
    assert client.get(f"{API}/{rec['id']}").json()["transcript_progress"]["done_s"] == 0
    repository.save_window(rec["id"], FIRST, datetime.now(UTC))  # a new version
    return rec


def test_the_text_so_far_is_readable_with_its_progress(client, audio_files) -> None:
    rec = transcribing(client, audio_files)
    body = client.get(f"{API}/{rec['id']}").json()
    assert body["transcript"] == "Zeppelins over the harbour."
    assert body["transcript_progress"] == {"done_s": 2.0, "total_s": rec["duration_s"]}
    listed = {r["id"]: r for r in client.get(API).json()["items"]}[rec["id"]]
    assert listed["transcript_progress"]["done_s"] == 2.0
    so_far = client.get(f"{API}/{rec['id']}/transcript", params={"format": "json"}).json()
    assert so_far["partial"] is True and so_far["speakers"] == []
    assert [s["text"] for s in so_far["segments"]] == ["Zeppelins over the harbour."]
    assert [w["word"] for w in so_far["segments"][0]["words"]] == ["Zeppelins", "over"]
    found = client.get(API, params={"q": "zeppelins"}).json()["items"]
    assert [r["id"] for r in found] == [rec["id"]]  # searchable as soon as it is stored


def test_files_corrections_and_names_wait_for_the_whole_transcript(client, audio_files) -> None:
    rec = transcribing(client, audio_files)
    transcript = f"{API}/{rec['id']}/transcript"
    for format in ("txt", "srt", "vtt", "md", "docx"):
        assert_error(client.get(transcript, params={"format": format}), 409, "variant_not_ready")
    fix = {"segments": [{"id": 0, "text": "Zeppelins over the harbor."}]}
    assert_error(client.patch(transcript, json=fix), 409, "variant_not_ready")
    assert_error(
        client.put(f"{API}/{rec['id']}/speakers", json={"S1": "A"}), 409, "variant_not_ready"
    )
    whole = Transcript.from_parts([Segment(0.1, 1.5, "Zeppelins over the harbour.", "S1")], "en")
    store_transcript(client, rec["id"], whole)
    done = client.get(transcript, params={"format": "json"}).json()
    assert done["partial"] is False and done["speakers"] == [{"id": "S1", "name": None}]
    assert done["transcript_progress"]["done_s"] == done["transcript_progress"]["total_s"]
    assert "Zeppelins" in client.get(transcript, params={"format": "srt"}).text


def test_before_any_window_the_transcript_is_not_ready(client, audio_files) -> None:
    rec = upload(client, audio_files["short_mp3"]).json()
    answer = client.get(f"{API}/{rec['id']}/transcript", params={"format": "json"})
    assert_error(answer, 409, "variant_not_ready")
