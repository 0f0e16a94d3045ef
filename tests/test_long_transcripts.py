"""A long recording's transcript appears window by window as it is made, and a transcription
cut off by a SIGKILLed engine resumes at the last stored window: real Whisper, real speaker
labels, a real server, a 12-minute, two-voice recording."""

from __future__ import annotations

import json
import re
import signal
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support import ffmpeg, two_talks
from tests.test_engine import API, ENGINE, stages, upload, wait_finished, wait_for

WINDOW_S = 60  # the default: twelve windows in twelve minutes
SETTINGS = {**ENGINE, "audiodas_work_lease_s": "6"}


@pytest.fixture(scope="module")
def twelve_minutes(tmp_path_factory) -> Path:
    """Dickens read by one voice, then Beckett's two, ten times over: 12 minutes."""
    folder = tmp_path_factory.mktemp("long")
    pair = two_talks(folder)
    path = folder / "twelve_minutes.wav"
    ffmpeg("-stream_loop", "9", "-i", str(pair), "-c", "copy", str(path))
    return path


def windows_logged(log: str, recording_id: str) -> list[float]:
    """The start of each window the engine stored (it logs each one once it is stored)."""
    found = re.findall(rf"recording {recording_id}: transcribed ([0-9.]+)-[0-9.]+ s", log)
    return [float(start) for start in found]


def follow_events(server, recording_id: str, into: list[dict]) -> threading.Thread:
    """Reads the recording's SSE stream until it ends, keeping its `transcript` events."""

    def read() -> None:
        url = f"{server.url}{API}/{recording_id}/events"
        try:
            with httpx.stream("GET", url, timeout=None) as answer:
                name = None
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: ") and name == "transcript":
                        into.append(json.loads(line[6:]))
        except httpx.HTTPError:
            pass  # the server was killed

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def transcript_json(server, recording_id: str) -> dict:
    return httpx.get(f"{server.url}{API}/{recording_id}/transcript?format=json").json()


def test_a_long_transcript_appears_as_made_and_resumes_after_sigkill(
    start_server, twelve_minutes
) -> None:
    server = start_server(**SETTINGS)
    rec = upload(server, twelve_minutes)
    assert rec["duration_s"] == pytest.approx(726.5, abs=2)  # (44.4 s + 28.3 s) x 10
    events: list[dict] = []
    follow_events(server, rec["id"], events)

    # Readable through the API (and pushed on the stream) before the stage is done.
    early = wait_for(server, rec["id"], lambda r: r["transcript_progress"]["done_s"] > 0, 300)
    assert stages(early)["transcribe"]["status"] == "running"
    assert "best of times" in early["transcript"].lower()
    so_far = transcript_json(server, rec["id"])
    assert so_far["partial"] is True and so_far["segments"]
    assert so_far["segments"][-1]["end"] <= early["transcript_progress"]["done_s"] + 1
    wait_for(server, rec["id"], lambda r: bool(events), 30)
    assert events[0]["start_s"] == 0 and events[0]["segments"]

    # SIGKILL with some windows stored and some not.
    stored = wait_for(server, rec["id"], lambda r: r["transcript_progress"]["done_s"] >= 200, 300)
    assert stored["transcript_progress"]["done_s"] < rec["duration_s"] - WINDOW_S
    processes = server.processes()
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.stop()
    psutil.wait_procs(processes, timeout=10)
    before = windows_logged(server.read_log(), rec["id"])
    assert before and before == sorted(set(before))

    restarted = start_server(**SETTINGS, audiodas_data_dir=str(server.data_dir))
    done = wait_finished(restarted, rec["id"], timeout=600)
    assert done["status"] == "done", done
    after = windows_logged(restarted.read_log(), rec["id"])
    # Counted: the windows stored before the kill were not transcribed again.
    resumed_at = float(re.search(
        rf"recording {rec['id']}: transcription resumes at ([0-9.]+) s", restarted.read_log()
    )[1])  # fmt: skip
    assert resumed_at > before[-1] and after[0] == pytest.approx(resumed_at, abs=0.01)
    assert not set(after) & set(before)
    assert done["transcript_progress"] == {
        "done_s": done["duration_s"],
        "total_s": done["duration_s"],
    }

    # The same file again, uninterrupted: the same transcript, to the word and speaker.
    again = wait_finished(restarted, upload(restarted, twelve_minutes)["id"], timeout=600)
    resumed, whole = transcript_json(restarted, rec["id"]), transcript_json(restarted, again["id"])
    assert resumed["partial"] is False and resumed["speakers"] == whole["speakers"]
    assert len(whole["speakers"]) >= 2
    assert resumed["text"] == whole["text"] and resumed["segments"] == whole["segments"]
    # Each window once in all: as many as the uninterrupted run made, at the same places.
    assert before + after == windows_logged(restarted.read_log(), again["id"])
