"""`audiodas serve` as processes: HTTP workers beside one engine process; progress pushed to SSE;
a hundred concurrent uploads each processed exactly once."""

from __future__ import annotations

import os
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from audiodas.adapters.storage import temp_files
from tests.test_engine import API, events, stages, upload, wait_finished, wait_for


def roles(server) -> dict[str, list]:
    """The server's processes by what they run."""
    found: dict[str, list] = {"http": [], "engine": [], "inference": []}
    for process in server.processes()[1:]:
        command = " ".join(process.cmdline())
        if "audiodas.inference.child" in command:
            found["inference"].append(process)
        elif "audiodas worker" in command:
            found["engine"].append(process)
        elif "audiodas http-worker" in command:
            found["http"].append(process)
    return found


def test_http_workers_serve_beside_the_engine_process(start_server, assets) -> None:
    server = start_server(
        audiodas_embedded_worker="true",
        audiodas_api_workers="2",
        # The product's priorities (the tests' servers otherwise run heavy work at nice 10).
        audiodas_heavy_work_nice="19",
        audiodas_heavy_work_idle_policy="true",
    )
    found = roles(server)
    assert len(found["http"]) == 2 and len(found["engine"]) == 1
    assert len(found["inference"]) == 2  # one per AI slot, children of the engine
    assert all(p.parent().pid == found["engine"][0].pid for p in found["inference"])
    # Inference only on CPU time the API does not want; the API and the engine as usual.
    for process in found["inference"]:
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE and process.nice() == 19
    for process in found["http"] + found["engine"]:
        assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER and process.nice() == 0

    # Many connections at once: the kernel hands them to both HTTP processes.
    connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
    time.sleep(0.5)
    serving = {
        p.pid
        for p in found["http"]
        for c in p.net_connections("tcp")
        if c.status == "ESTABLISHED" and c.laddr.port == server.port
    }
    for c in connections:
        c.close()
    assert serving == {p.pid for p in found["http"]}
    # Each HTTP process keeps what starting made out of the collector's full walks (those
    # stalled every request in the process for ~130 ms, about once a minute under load).
    kept = re.findall(r"kept (\d+) startup objects out of garbage collection", server.read_log())
    assert len(kept) == 2 and all(int(n) > 50_000 for n in kept)

    # The API answers from its processes while the engine works in its own.
    rec = upload(server, assets / "two_cities.wav")
    wait_for(server, rec["id"], lambda r: stages(r)["transcribe"]["status"] == "running")
    with httpx.Client(base_url=server.url) as client:
        for _ in range(50):
            assert client.get(API).status_code == 200
            assert client.get("/healthz").json()["engine"]["processing"] is True
    assert wait_finished(server, rec["id"])["status"] == "done"


@pytest.mark.database
def test_sse_receives_every_pushed_transition(start_server, assets) -> None:
    # One recording at a time: the second waits, so its stream sees every change it goes through.
    server = start_server(audiodas_embedded_worker="true", audiodas_recording_slots="1")
    first = upload(server, assets / "two_cities.wav")
    second = upload(server, assets / "beckett.wav")
    seen = [(s["name"], s["status"]) for name, s in events(server, second["id"]) if name == "stage"]
    # Each stage of the waiting recording, running then done: nothing polled, nothing missed.
    for stage in ("archive", "echo", "transcribe", "summarize"):
        assert [s for n, s in seen if n == stage] == ["running", "done"], seen
    assert wait_finished(server, first["id"])["status"] == "done"


@pytest.mark.slow
@pytest.mark.database
def test_a_hundred_concurrent_uploads_are_each_processed_exactly_once(start_server, assets) -> None:
    server = start_server(audiodas_embedded_worker="true")
    clip = assets / "beckett.wav"
    with ThreadPoolExecutor(20) as pool:
        accepted = list(pool.map(lambda _: upload(server, clip), range(100)))
    ids = [r["id"] for r in accepted]
    assert len(set(ids)) == 100

    results = [wait_finished(server, i, timeout=600) for i in ids]
    listed = httpx.get(f"{server.url}{API}", params={"limit": 500}).json()["items"]
    assert sorted(r["id"] for r in listed) == sorted(ids)  # no duplicate rows, none lost
    transcripts = {r["transcript"] for r in results}
    assert len(transcripts) == 1 and "fail better" in transcripts.pop().lower()
    for rec in results:
        assert rec["status"] == "done", rec
        assert all(s["attempts"] == 1 for s in rec["stages"]), rec["stages"]  # nothing retried
        st = stages(rec)
        assert st["summarize"]["started_at"] >= st["transcribe"]["finished_at"]
        folder = Path(server.data_dir) / "recordings" / rec["id"]
        assert sorted(p.name for p in folder.iterdir()) == [
            "archive.m4a",
            "echo.mp3",
            "original.wav",
        ]
    archives = {r["variants"]["archive"]["sha256"] for r in results}
    assert len(archives) == 1  # same input, same bytes: each ran once, none half-written
    health = httpx.get(f"{server.url}/healthz").json()["engine"]
    assert health["inference"]["timeouts"] == 0 and health["inference"]["deaths"] == 0
    assert not temp_files(server.data_dir)
