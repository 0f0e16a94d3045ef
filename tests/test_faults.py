"""Faults with real processes: a full disk, PostgreSQL going away mid-processing, processes
killed mid-upload, workers started beside running uploads. Users get JSON answers; nothing
accepted is lost and nothing refused is left behind."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from audiodas.adapters.storage import temp_files
from tests.support import PostgresCluster, Server, assert_error, snapshot
from tests.test_engine import API, stages, upload, wait_finished, wait_for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB filesystem of its own (tmpfs) to fill; the data folder is its root."""
    mount = tmp_path / "disk" / "data"
    mount.mkdir(parents=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.fail(f"cannot mount a small filesystem (run the tests as root): {made.stderr!r}")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write until the filesystem refuses a single byte more."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\1" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_answers_507_keeps_delete_working_and_recovers(small_disk, audio_files) -> None:
    # The database (SQLite) lives on the full disk too, as in the embedded default.
    server = Server(small_disk, env={"AUDIODAS_RETENTION_DAYS": "0"}).start()
    try:
        first = upload(server, audio_files["short_mp3"])
        filler = fill(small_disk)
        before = snapshot(server.url, server.data_dir)

        with audio_files["mp3"].open("rb") as f:
            full = httpx.post(f"{server.url}{API}", files={"file": f}, timeout=60)
        assert_error(full, 507, "insufficient_storage")
        assert full.headers["retry-after"]
        assert snapshot(server.url, server.data_dir) == before  # nothing half-written
        assert httpx.get(f"{server.url}{API}").status_code == 200  # reads go on

        # Space can be freed through the API while the disk is full.
        assert httpx.delete(f"{server.url}{API}/{first['id']}").status_code == 200
        assert_error(httpx.get(f"{server.url}{API}/{first['id']}"), 404, "not_found")
        assert not (small_disk / "recordings" / first["id"]).exists()

        filler.unlink()
        again = upload(server, audio_files["mp3"])
        stream = httpx.get(f"{server.url}{API}/{again['id']}/stream")
        assert stream.content == audio_files["mp3"].read_bytes()
    finally:
        server.stop()


def test_a_delete_on_a_disk_with_no_byte_left_uses_the_databases_reserve(small_disk) -> None:
    """Nothing of the recording's to free first (no file of its own): the delete still goes
    through, in the room SQLite's reserve kept; the reserve is made again once there is room."""
    from datetime import UTC, datetime

    from audiodas.adapters.database import SqlRecordingRepository, create_engine_for, migrate
    from tests.integration.test_database import make

    engine = create_engine_for(f"sqlite:///{small_disk / 'audiodas.db'}")
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    reserve = small_disk / "audiodas.db-reserve"
    assert reserve.stat().st_size == 1 << 20
    recordings = [make(n, datetime(2026, 5, n, tzinfo=UTC)) for n in range(1, 4)]
    for recording in recordings:
        repository.add(recording)
    filler = fill(small_disk)
    assert repository.delete(recordings[0].id)
    assert repository.get(recordings[0].id) is None and not reserve.exists()
    filler.unlink()
    assert repository.delete(recordings[1].id)
    assert reserve.stat().st_size == 1 << 20  # room again: kept for the next full disk
    engine.dispose()


def test_stages_failed_on_a_full_disk_succeed_on_retry(small_disk, tmp_path, assets) -> None:
    env = {
        "AUDIODAS_DATABASE_URL": f"sqlite:///{tmp_path / 'outside.db'}",  # only files fail
        "AUDIODAS_RETRY_BACKOFF_S": "0.05",
    }
    server = Server(small_disk, env=env).start()  # API only: the worker starts on a full disk
    worker = None
    try:
        rec = upload(server, assets / "beckett.wav")
        filler = fill(small_disk)
        worker = subprocess.Popen(
            [sys.executable, "-m", "audiodas", "worker"],
            env=server.node_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        failed = wait_finished(server, rec["id"], timeout=120)
        assert failed["status"] == "failed"
        for name in ("archive", "echo"):
            error = stages(failed)[name]["error"]
            assert "No space left on device" in error and "\n" not in error
        assert stages(failed)["transcribe"]["status"] == "done"  # it writes no file

        filler.unlink()
        retried = httpx.post(f"{server.url}{API}/{rec['id']}/retry")
        assert retried.status_code == 202
        done = wait_finished(server, rec["id"], timeout=120)
        assert done["status"] == "done" and set(done["variants"]) == {"original", "archive", "echo"}
        assert stages(done)["transcribe"]["attempts"] == 1  # done stages are not run again
        archive = httpx.get(f"{server.url}{done['variants']['archive']['url']}")
        assert archive.status_code == 200 and len(archive.content) > 10_000
        assert not temp_files(small_disk)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        server.stop()


def test_postgresql_outage_gets_503_and_processing_resumes(start_server, assets) -> None:
    cluster = PostgresCluster().start()  # its own: stopping it must not disturb other tests
    server = None
    try:
        server = start_server(
            audiodas_database_url=cluster.create_database("outage"),
            audiodas_embedded_worker="true",
            audiodas_work_lease_s="4",
            audiodas_sweep_interval_s="1",
        )
        rec = upload(server, assets / "two_cities.wav")
        wait_for(server, rec["id"], lambda r: stages(r)["transcribe"]["status"] == "running")

        cluster.pause()
        for answer in (
            httpx.get(f"{server.url}{API}"),
            httpx.get(f"{server.url}{API}/{rec['id']}"),
            httpx.post(f"{server.url}{API}", files={"file": (assets / "beckett.wav").open("rb")}),
        ):
            assert_error(answer, 503, "database_unavailable")
            assert answer.headers["retry-after"]
        assert httpx.get(f"{server.url}/healthz").status_code == 503
        time.sleep(3)  # stages end and try to save meanwhile
        cluster.resume()

        done = wait_finished(server, rec["id"], timeout=120)
        assert done["status"] == "done"
        assert all(s["status"] == "done" for s in stages(done).values())
        assert "best of times" in done["transcript"].lower()
        files = sorted(p.name for p in (server.data_dir / "recordings" / rec["id"]).iterdir())
        assert files == ["archive.m4a", "echo.mp3", "original.wav"]
        ids = [r["id"] for r in httpx.get(f"{server.url}{API}").json()["items"]]
        assert ids == [rec["id"]]  # the upload refused during the outage left no row
        assert not temp_files(server.data_dir)
    finally:
        if server is not None:
            server.stop()  # while its database runs: a server without one waits to stop
        cluster.stop()


def slow_body(clip: bytes, sent: threading.Event, release: threading.Event) -> Iterator[bytes]:
    """A multipart upload that sends half, then waits for `release`."""
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
    yield head + clip[: len(clip) // 2]
    sent.set()
    release.wait(30)
    yield clip[len(clip) // 2 :] + b"\r\n--B--\r\n"


def start_slow_upload(server, clip: bytes) -> tuple[threading.Thread, dict, threading.Event]:
    sent, release, result = threading.Event(), threading.Event(), {}

    def send() -> None:
        try:
            result["response"] = httpx.post(
                f"{server.url}{API}",
                content=slow_body(clip, sent, release),
                headers={"Content-Type": "multipart/form-data; boundary=B"},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            result["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    assert sent.wait(10)
    time.sleep(0.3)  # the server has the first half on disk
    return thread, result, release


def test_sigkill_mid_upload_leaves_no_row_and_no_file(tmp_path, audio_files) -> None:
    clip = audio_files["mp3"].read_bytes()
    server = Server(tmp_path / "data").start()
    processes = server.processes()
    thread, result, release = start_slow_upload(server, clip)
    assert temp_files(server.data_dir)  # the half-received upload
    server.process.kill()  # the whole server: its children die with it
    psutil.wait_procs(processes, timeout=30)
    release.set()
    thread.join()
    assert "error" in result  # the client saw the connection go

    restarted = Server(tmp_path / "data").start()
    try:
        assert snapshot(restarted.url, restarted.data_dir) == ([], [])
    finally:
        restarted.stop()


@pytest.mark.database
def test_workers_started_mid_upload_lose_nothing(start_server, audio_files) -> None:
    """An API process and two workers on one data folder: each worker, starting, cleans what
    dead processes left in the temp folders, and must not touch the live API's upload."""
    clip = audio_files["mp3"].read_bytes()
    server = start_server()  # API only
    workers = []
    try:
        thread, result, release = start_slow_upload(server, clip)
        for _ in range(2):
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "audiodas", "worker"],
                    env=server.node_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        # Both workers are up (they sweep the temp folders before they report): with the
        # server's own inference-only engine, three engines report.
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/healthz").json()["engine"]["engines"] < 3:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        assert temp_files(server.data_dir)  # the upload's half is still there
        release.set()
        thread.join()
        assert result["response"].status_code == 202, result["response"].text
        rec = result["response"].json()
        done = wait_finished(server, rec["id"], timeout=120)
        assert done["status"] == "done"
        assert all(s["attempts"] == 1 for s in stages(done).values())  # processed once
        original = httpx.get(f"{server.url}{API}/{rec['id']}/stream").content
        assert original == clip
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)


def test_an_unexpected_failure_is_500_json_with_a_request_id_in_the_log(tmp_path) -> None:
    server = Server(tmp_path / "data").start()
    try:
        # A database changed behind the server's back: a real failure no request can cure.
        with sqlite3.connect(server.data_dir / "audiodas.db") as db:
            db.execute("ALTER TABLE recordings RENAME TO recordings_moved")
        r = httpx.get(f"{server.url}{API}")
        assert_error(r, 500, "internal_error")
        request_id = r.json()["request_id"]
        assert r.headers["x-request-id"] == request_id
        for leak in ("Traceback", "recordings_moved", "no such table", str(server.data_dir)):
            assert leak not in r.text
        log = server.read_log()
        assert f"request {request_id} failed: GET {API}" in log
        assert "no such table: recordings" in log  # the cause is in the log
    finally:
        server.stop()
