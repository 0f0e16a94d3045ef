"""The processing engine with real FFmpeg and real Whisper on real speech."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import httpx
import imageio_ffmpeg
import psutil
import pytest

from audiodas.adapters.storage import temp_files
from tests.support import ffmpeg

API = "/api/v1/recordings"
ENGINE = {"audiodas_embedded_worker": "true"}


def upload(server, path: Path, **fields: str) -> dict:
    with path.open("rb") as f:
        r = httpx.post(f"{server.url}{API}", files={"file": f}, data=fields, timeout=60)
    assert r.status_code == 202, r.text
    return r.json()


def wait_finished(server, recording_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = httpx.get(f"{server.url}{API}/{recording_id}").json()
        if rec["status"] in ("done", "failed", "rejected"):
            return rec
        time.sleep(0.2)
    raise AssertionError(f"not finished in {timeout} s: {rec}\n{server.stacks()}")


def wait_for(server, recording_id: str, predicate, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = httpx.get(f"{server.url}{API}/{recording_id}").json()
        if predicate(rec):
            return rec
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout} s: {rec}")


def events(server, recording_id: str) -> Iterator[tuple[str, dict]]:
    """A recording's Server-Sent Events as (name, data), up to and including `done`."""
    with httpx.stream("GET", f"{server.url}{API}/{recording_id}/events", timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                yield name, json.loads(line[6:])
                if name == "done":
                    return


def stages(rec: dict) -> dict[str, dict]:
    return {s["name"]: s for s in rec["stages"]}


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory, assets: Path) -> Path:
    """Three minutes of human speech (two_cities.wav four times over)."""
    path = tmp_path_factory.mktemp("long") / "long_speech.wav"
    ffmpeg("-stream_loop", "3", "-i", str(assets / "two_cities.wav"), "-c", "copy", str(path))
    return path


def test_branches_run_in_parallel_and_produce_valid_files(start_server, long_speech) -> None:
    server = start_server(**ENGINE)
    rec = wait_finished(server, upload(server, long_speech)["id"])
    assert rec["status"] == "done", rec
    st = stages(rec)
    branches = [st["archive"], st["echo"], st["transcribe"]]
    # All three were running at one moment: the latest start precedes the earliest finish.
    assert max(when(s["started_at"]) for s in branches) < min(
        when(s["finished_at"]) for s in branches
    )
    assert when(st["summarize"]["started_at"]) >= when(st["transcribe"]["finished_at"])

    folder = server.data_dir / "recordings" / rec["id"]
    with av.open(str(folder / "archive.m4a")) as archive:
        stream = archive.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert archive.format.name.startswith("mov,mp4,m4a")
        duration = float(stream.duration * stream.time_base)
        assert abs(duration - rec["duration_s"]) <= 0.1
        assert stream.codec_context.channels == rec["channels"]
    with av.open(str(folder / "echo.mp3")) as echo:
        decoded = sum(frame.samples for frame in echo.decode(audio=0))
        seconds = decoded / echo.streams.audio[0].sample_rate
        # aecho rings on for its 500 ms delay after the original ends.
        assert rec["duration_s"] - 0.1 <= seconds <= rec["duration_s"] + 0.6
    assert rec["variants"]["archive"]["sha256"]
    r = httpx.get(
        f"{server.url}{API}/{rec['id']}/stream?variant=archive", headers={"Range": "bytes=0-99"}
    )
    assert r.status_code == 206 and r.headers["content-type"] == "audio/mp4"
    r = httpx.get(f"{server.url}{API}/{rec['id']}/stream?variant=echo")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert "best of times" in rec["transcript"].lower()
    assert rec["summary"] and len(rec["summary"]) <= 50


@pytest.mark.database  # the work queue (procrastinate on PostgreSQL)
def test_six_recordings_never_exceed_the_slots(start_server, assets) -> None:
    server = start_server(**ENGINE)
    seen = {"ffmpeg": 0}
    stop = threading.Event()

    def count_ffmpeg() -> None:
        parent = psutil.Process(server.process.pid)
        while not stop.is_set():
            try:
                running = [p for p in parent.children(recursive=True) if "ffmpeg" in p.name()]
            except psutil.Error:
                continue
            seen["ffmpeg"] = max(seen["ffmpeg"], len(running))
            time.sleep(0.005)

    watcher = threading.Thread(target=count_ffmpeg, daemon=True)
    watcher.start()
    ids = [upload(server, assets / "beckett.wav")["id"] for _ in range(6)]
    try:
        results = [wait_finished(server, i) for i in ids]
    finally:
        stop.set()
        watcher.join()
    assert all(r["status"] == "done" for r in results)
    metrics = httpx.get(f"{server.url}/metrics").text
    peak = {
        kind: float(
            next(
                line.split()[-1]
                for line in metrics.splitlines()
                if line.startswith(f'audiodas_slots_peak{{kind="{kind}"}}')
            )
        )
        for kind in ("ffmpeg", "ai", "recordings")
    }
    assert 1 <= seen["ffmpeg"] <= 2, seen  # observed from outside: FFmpeg child processes
    assert peak["ffmpeg"] == 2  # the limit was reached, so it is what held them back
    assert peak["ai"] <= 2 and peak["recordings"] == 2
    assert 'audiodas_slots_capacity{kind="ai"} 2.0' in metrics
    assert 'audiodas_stage_duration_seconds_count{stage="transcribe"} 6.0' in metrics


def test_ffmpeg_failure_fails_only_its_stages(start_server, corrupt_in_the_middle) -> None:
    server = start_server(**ENGINE, audiodas_retry_backoff_s="0.05")
    rec = wait_finished(server, upload(server, corrupt_in_the_middle)["id"])
    st = stages(rec)
    assert rec["status"] == "failed"
    for name in ("archive", "echo"):
        assert st[name]["status"] == "failed"
        # One line for people: FFmpeg's first complaint, no addresses (the log has the rest).
        assert st[name]["error"].startswith("FFmpeg failed (exit ")
        assert "invalid sync code" in st[name]["error"].lower()
        assert "\n" not in st[name]["error"] and "0x" not in st[name]["error"]
        assert st[name]["attempts"] == 3
    # The speech branch went on: PyAV decodes past the damage.
    assert st["transcribe"]["status"] == "done" and rec["transcript"]
    assert st["summarize"]["status"] == "done" and rec["summary"]
    assert set(rec["variants"]) == {"original"}
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'audiodas_stage_failures_total{stage="archive"} 1.0' in metrics
    assert not temp_files(server.data_dir)

    # A retry runs the failed stages again, and only those.
    retried = httpx.post(f"{server.url}{API}/{rec['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert stages(retried.json())["archive"]["status"] == "pending"
    again = wait_finished(server, rec["id"])
    assert again["status"] == "failed"
    assert [stages(again)[n]["attempts"] for n in ("archive", "echo", "transcribe")] == [6, 6, 1]

    # No archive copy was ever made, so none is under retention: the recording can go.
    gone = httpx.delete(f"{server.url}{API}/{rec['id']}")
    assert gone.status_code == 200, gone.text
    assert httpx.get(f"{server.url}{API}/{rec['id']}").status_code == 404
    assert not (server.data_dir / "recordings" / rec["id"]).exists()


@pytest.mark.database  # the work queue (procrastinate on PostgreSQL)
def test_sigkill_mid_recording_resumes_to_one_set_of_products(start_server, assets) -> None:
    # The killed engine's claim is taken over once its lease runs out.
    server = start_server(**ENGINE, audiodas_work_lease_s="6")
    rec = upload(server, assets / "two_cities.wav")  # 44 s: transcribing takes seconds
    wait_for(server, rec["id"], lambda r: stages(r)["transcribe"]["status"] == "running")
    processes = server.processes()
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.stop()
    psutil.wait_procs(processes, timeout=10)

    assert not any(p.is_running() for p in processes)  # the whole tree went with it
    restarted = start_server(
        **ENGINE, audiodas_work_lease_s="6", audiodas_data_dir=str(server.data_dir)
    )
    done = wait_finished(restarted, rec["id"])
    assert done["status"] == "done"
    assert stages(done)["transcribe"]["started_at"] > rec["created_at"]
    files = sorted(p.name for p in (server.data_dir / "recordings" / rec["id"]).iterdir())
    assert files == ["archive.m4a", "echo.mp3", "original.wav"]
    assert not temp_files(server.data_dir)
    assert "best of times" in done["transcript"].lower()
    assert done["transcript"].lower().count("it was the best of times") == 1  # not doubled


@pytest.mark.database  # the work queue (procrastinate on PostgreSQL)
def test_sigterm_drains_running_work_and_takes_no_more(start_server, assets) -> None:
    server = start_server(**ENGINE, audiodas_recording_slots="1")
    first = upload(server, assets / "two_cities.wav")  # 44 s: transcribing takes seconds
    second = upload(server, assets / "two_cities.wav")
    wait_for(server, first["id"], lambda r: stages(r)["transcribe"]["status"] == "running")
    server.process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its shutdown is complete.
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    server.stop()
    assert "engine stopped" in server.read_log()

    restarted = start_server(audiodas_data_dir=str(server.data_dir))  # API only: look, don't touch
    drained = httpx.get(f"{restarted.url}{API}/{first['id']}").json()
    waiting = httpx.get(f"{restarted.url}{API}/{second['id']}").json()
    assert stages(drained)["transcribe"]["status"] == "done"
    assert drained["transcript"]
    assert waiting["status"] == "queued"
    assert all(s["status"] == "pending" for s in waiting["stages"])


@pytest.mark.database  # the work queue (procrastinate on PostgreSQL)
def test_events_stream_stage_changes_until_done(start_server, assets) -> None:
    server = start_server(**ENGINE)
    rec = upload(server, assets / "beckett.wav")
    names = [name for name, _ in events(server, rec["id"])]
    assert names[0] == "snapshot" and names[-1] == "done"
    assert "stage" in names
    assert httpx.get(f"{server.url}{API}/{'0' * 32}/events").status_code == 404


def test_a_wav_of_unknown_length_is_processed(start_server, assets, tmp_path) -> None:
    """Streaming recorders write WAVs whose header cannot state the length (0xFFFFFFFF): the
    last packet is short, which must not count as damage."""
    streamed = tmp_path / "streamed.wav"
    pipe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(assets / "beckett.wav"),
         "-f", "wav", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    streamed.write_bytes(pipe.stdout)
    assert streamed.read_bytes()[4:8] == b"\xff\xff\xff\xff"  # as written to a pipe
    server = start_server(**ENGINE)
    done = wait_finished(server, upload(server, streamed)["id"])
    assert done["status"] == "done", stages(done)
    assert set(done["variants"]) == {"original", "archive", "echo"}
    assert "fail better" in done["transcript"].lower()
