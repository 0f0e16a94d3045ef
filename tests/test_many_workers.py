"""Many workers on one PostgreSQL through procrastinate: one API process, two worker processes,
on loopback. Each recording is processed exactly once, the work is spread, and a worker killed
mid-recording leaves its recording to the other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import WEBHOOK_SECRET, Receiver, signed_correctly
from tests.test_engine import events, stages, upload, wait_finished, wait_for

LEASE_S = 4  # a killed worker's jobs go to another after this long without a heartbeat


class Worker:
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audiodas", "worker"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("wb"),
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def finished(self) -> list[str]:
        """The recordings this worker brought to an end (its log says so)."""
        return re.findall(r"recording ([0-9a-f]{32}) (?:done|failed)", self.log_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Where the workers send their webhooks."""
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def deployment(start_server, postgres, tmp_path, receiver):
    env = {
        "AUDIODAS_DATABASE_URL": postgres.create_database(f"w_{uuid.uuid4().hex[:10]}"),
        "AUDIODAS_WORK_LEASE_S": str(LEASE_S),
        "AUDIODAS_SWEEP_INTERVAL_S": "1",
        "AUDIODAS_WEBHOOK_URLS": f"{receiver.url}/hook",
        "AUDIODAS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUDIODAS_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    server = start_server(**env)  # API only
    env["AUDIODAS_DATA_DIR"] = str(server.data_dir)
    workers = [Worker(name, env, tmp_path) for name in ("w1", "w2")]
    yield server, workers
    for worker in workers:
        worker.stop()


def test_twenty_uploads_are_each_processed_once_by_two_workers(
    deployment, assets, receiver
) -> None:
    server, workers = deployment
    clips = [assets / "beckett.wav", assets / "two_cities.wav"]
    ids = [upload(server, clips[i % 2])["id"] for i in range(20)]
    done = [wait_finished(server, rid, timeout=300) for rid in ids]

    assert all(r["status"] == "done" for r in done)
    for rec in done:
        assert all(s["attempts"] == 1 for s in stages(rec).values()), rec  # no stage twice
        folder = server.data_dir / "recordings" / rec["id"]
        assert sorted(p.name for p in folder.iterdir()) == [
            "archive.m4a", "echo.mp3", "original.wav"
        ]  # fmt: skip
        times = stages(rec)
        assert times["transcribe"]["finished_at"] <= times["summarize"]["started_at"]
    by_worker = {w.name: w.finished() for w in workers}
    counts = Counter(rid for finished in by_worker.values() for rid in finished)
    assert counts == Counter(ids)  # each exactly once, by one worker
    assert all(len(finished) >= 4 for finished in by_worker.values()), by_worker  # spread
    # Both workers send webhooks from the one outbox: each event arrives once.
    told = receiver.wait(20)
    time.sleep(2)  # anything sent twice would have arrived by now
    assert len(receiver.events()) == 20 and all(signed_correctly(r) for r in receiver.received)
    assert sorted(e["data"]["id"] for e in told) == sorted(ids)
    assert {e["type"] for e in told} == {"recording.done"}


def test_a_worker_killed_mid_recording_leaves_it_to_the_other(deployment, assets) -> None:
    server, workers = deployment
    rec = upload(server, assets / "two_cities.wav")
    wait_for(server, rec["id"], lambda r: stages(r)["transcribe"]["status"] == "running")
    [holder] = [w for w in workers if f"recording {rec['id']}: processing" in w.log_text()]
    holder.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    done = wait_finished(server, rec["id"], timeout=120)
    assert done["status"] == "done"
    assert time.monotonic() - killed_at < LEASE_S + 30  # within the stalled-job timeout
    [other] = [w for w in workers if w is not holder]
    assert rec["id"] in other.finished()
    folder = server.data_dir / "recordings" / rec["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["archive.m4a", "echo.mp3", "original.wav"]


def test_workers_started_and_stopped_mid_upload_harm_nothing(deployment, audio_files) -> None:
    server, workers = deployment
    workers[1].stop()
    clip = audio_files["mp3"].read_bytes()
    results: list[httpx.Response] = []

    def send() -> None:
        def body():
            yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
            yield clip[: len(clip) // 2]
            time.sleep(2)  # a worker starts and another stops meanwhile
            yield clip[len(clip) // 2 :] + b"\r\n--B--\r\n"

        results.append(
            httpx.post(
                f"{server.url}/api/v1/recordings",
                content=body(),
                headers={"Content-Type": "multipart/form-data; boundary=B"},
                timeout=60,
            )
        )

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(0.5)
    workers[1] = Worker("w3", workers[0].env, workers[0].log_path.parent)
    workers[0].stop()
    thread.join()
    assert results[0].status_code == 202, results[0].text
    done = wait_finished(server, results[0].json()["id"], timeout=120)
    assert done["status"] == "done"
    stream = httpx.get(f"{server.url}/api/v1/recordings/{done['id']}/stream").content
    assert stream == clip


def test_progress_reaches_every_api_node(deployment, start_server, assets) -> None:
    """SSE works whichever API node a browser talks to: a worker's stage changes reach every
    node through PostgreSQL, each one as it happens (a node's own re-read comes every 10 s and
    would miss most of them)."""
    server, workers = deployment
    for worker in workers:
        worker.stop()  # nothing runs until both nodes follow the recording
    other_node = start_server(**server.env, audiodas_data_dir=str(server.data_dir))
    rec = upload(server, assets / "beckett.wav")

    seen: dict[str, list[tuple[str, str]]] = {server.url: [], other_node.url: []}
    following = threading.Barrier(3)

    def follow(node) -> None:
        for name, data in events(node, rec["id"]):
            if name == "snapshot":
                following.wait(timeout=30)
            elif name == "stage":
                seen[node.url].append((data["name"], data["status"]))

    threads = [threading.Thread(target=follow, args=(node,)) for node in (server, other_node)]
    for thread in threads:
        thread.start()
    following.wait(timeout=30)
    workers.append(Worker("w3", workers[0].env, workers[0].log_path.parent))
    for thread in threads:
        thread.join(timeout=120)

    for node, changes in seen.items():
        for stage in ("archive", "echo", "transcribe", "summarize"):
            assert [s for n, s in changes if n == stage] == ["running", "done"], (node, changes)
