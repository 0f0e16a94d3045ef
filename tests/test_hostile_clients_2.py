"""What a second hostile client found (issue 41), each answered at its cause: bodies read before
access was decided, files outliving DELETE, two servers on one port, credentials in the log,
subtitle injection, two Host headers, a proxy used, tracebacks for dropped connections, and
unlimited key guesses."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.support import WEBHOOK_SECRET, Receiver, Server, free_port
from tests.test_engine import wait_finished
from tests.test_hostile_clients import rss_mib

API = "/api/v1/recordings"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server that requires keys, with one of each scope."""
    srv = Server(
        tmp_path_factory.mktemp("keyed") / "data",
        env={"AUDIODAS_AUTH": "required", "AUDIODAS_RETENTION_DAYS": "0"},
    ).start()
    srv.keys = {s: srv.create_key(s, s) for s in ("read", "upload", "admin")}
    yield srv
    srv.stop()


def answer_to(server, head: bytes, body: bytes = b"") -> bytes:
    """Send a request head and the start of its body, then read what the server answers
    without sending the rest."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    sock.sendall(head + body)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    sock.close()
    return answer


def test_a_body_is_bounded_and_access_decided_before_it_is_read(keyed) -> None:
    before = rss_mib(keyed)
    path = f"{API}/{'0' * 32}/speakers"
    # 400 MiB announced: refused on its head, nothing of it read.
    announced = answer_to(
        keyed,
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {400 << 20}\r\n\r\n".encode(),
    )
    assert announced.startswith(b"HTTP/1.1 413 "), announced[:200]
    assert b'"error":"body_too_large"' in announced
    # Unannounced (chunked), without a key: 401 after its first chunk, the rest never sent.
    chunked = answer_to(
        keyed,
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode(),
        b"10000\r\n" + b"x" * 0x10000 + b"\r\n",
    )
    assert chunked.startswith(b"HTTP/1.1 401 "), chunked[:200]
    # With a key, a chunked body past the bound: 413 at the bound.
    headers = {"Authorization": f"Bearer {keyed.keys['upload']}"}
    flood = (b'{"S1": "' + b"x" * 65536 + b'"}' for _ in range(64))  # 4 MiB, chunked
    answer = httpx.put(f"{keyed.url}{path}", content=flood, headers=headers)
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"
    assert rss_mib(keyed) - before < 16, (before, rss_mib(keyed))
    # A body within the bound still reaches the route (an unknown recording: 404).
    assert httpx.put(f"{keyed.url}{path}", json={"S1": "A"}, headers=headers).status_code == 404


def engine_idle(server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        engine = httpx.get(f"{server.url}/healthz").json().get("engine") or {}
        if engine.get("in_flight") == 0:
            return
        assert time.monotonic() < deadline, engine
        time.sleep(0.2)


def test_a_recording_deleted_while_processed_leaves_nothing_on_disk(
    start_server, assets, corrupt_in_the_middle
) -> None:
    server = start_server(
        audiodas_embedded_worker="true", audiodas_retention_days="0",
        audiodas_retry_backoff_s="0.05",
    )  # fmt: skip
    deleted = []
    for delay in (0.2, 0.8, 1.5, 2.5):  # mid-encoding, mid-transcription, as they come
        with (assets / "two_cities.wav").open("rb") as f:
            rec = httpx.post(f"{server.url}{API}", files={"file": f}).json()
        time.sleep(delay)
        assert httpx.delete(f"{server.url}{API}/{rec['id']}").status_code == 200
        deleted.append(rec["id"])
    # A failed recording retried and deleted at once: whichever wins, nothing is left.
    with corrupt_in_the_middle.open("rb") as f:
        failed = httpx.post(f"{server.url}{API}", files={"file": f}).json()
    wait_finished(server, failed["id"])
    with httpx.Client(base_url=server.url) as client:
        retry = client.build_request("POST", f"{API}/{failed['id']}/retry")
        delete = client.build_request("DELETE", f"{API}/{failed['id']}")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(client.send, (retry, delete)))
    assert answers[1].status_code == 200, answers[1].text
    deleted.append(failed["id"])
    assert httpx.post(f"{server.url}{API}/{failed['id']}/retry").status_code == 404
    engine_idle(server)
    time.sleep(2)  # a product written late would be there by now
    left = {p.name for p in (server.data_dir / "recordings").iterdir()}
    assert not left & set(deleted), left


def test_two_servers_started_at_once_on_one_port_one_refuses_clearly(tmp_path, audio_files) -> None:
    port = free_port()
    env = {**os.environ, "AUDIODAS_EMBEDDED_WORKER": "false", "AUDIODAS_API_WORKERS": "2"}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "audiodas", "serve", "--port", str(port)],
            env={
                **env,
                "AUDIODAS_DATA_DIR": str(tmp_path / f"data{i}"),
                "AUDIODAS_RUN_DIR": str(tmp_path / f"run{i}"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in started):
            assert time.monotonic() < deadline, "both servers are running"
            time.sleep(0.1)
        (refused,) = [p for p in started if p.poll() is not None]
        (serving,) = [p for p in started if p is not refused]
        assert refused.returncode == 3
        assert f"another `audiodas serve` is serving on port {port}" in refused.stdout.read()
        url = f"http://127.0.0.1:{port}{API}"
        deadline = time.monotonic() + 30
        while True:  # serving once its HTTP processes listen
            try:
                with audio_files["short_mp3"].open("rb") as f:
                    assert httpx.post(url, files={"file": f}).status_code == 202
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        # Each listing on a new connection: every one reaches the server that stored it.
        counts = [len(httpx.get(url).json()["items"]) for _ in range(12)]
        assert serving.poll() is None and counts == [1] * 12, counts
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)


def test_webhooks_go_direct_and_their_credentials_stay_out_of_the_log(start_server, assets):
    receiver, proxy = Receiver(), Receiver()  # the proxy would see any request sent through it
    try:
        server = start_server(
            audiodas_embedded_worker="true", audiodas_webhook_secret=WEBHOOK_SECRET,
            audiodas_webhook_allow_private="true", http_proxy=proxy.url, https_proxy=proxy.url,
            all_proxy=proxy.url,
        )  # fmt: skip
        target = f"http://user:pa55word@127.0.0.1:{receiver.port}/own?token=SECRET-TOKEN"
        with (assets / "beckett.wav").open("rb") as f:
            rec = httpx.post(f"{server.url}{API}", files={"file": f}, data={"callback_url": target})
        assert rec.status_code == 202, rec.text
        (event,) = receiver.wait(1, path="/own?token=SECRET-TOKEN")
        time.sleep(1)  # its log line is written after the answer
        log = server.read_log()
    finally:
        receiver.close()
        proxy.close()
    assert event["data"]["id"] == rec.json()["id"] and proxy.received == []
    assert "webhook recording.done delivered to http://127.0.0.1:" in log
    assert "pa55word" not in log and "SECRET-TOKEN" not in log


def test_two_host_headers_are_refused(keyed) -> None:
    for hosts in (("evil.example", "127.0.0.1"), ("127.0.0.1", "evil.example")):
        head = "GET /static HTTP/1.1\r\n" + "".join(f"Host: {h}\r\n" for h in hosts) + "\r\n"
        answer = answer_to(keyed, head.encode())
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
        assert b'"error":"host_not_allowed"' in answer and b"evil" not in answer
    one = answer_to(keyed, b"GET /static HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert one.split(b"\r\n")[0] in (b"HTTP/1.1 307 Temporary Redirect", b"HTTP/1.1 404 Not Found")


def test_a_client_gone_with_pipelined_requests_is_logged_as_gone(start_server, assets) -> None:
    server = start_server()
    with (assets / "two_cities.wav").open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}).json()
    request = f"GET {API}/{rec['id']}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(request * 3000)
        time.sleep(1.5)  # answers are being written, hardly read
        sock.close()
    time.sleep(1)
    log = server.read_log()
    assert "stream: the client went away" in log
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log[-3000:]
