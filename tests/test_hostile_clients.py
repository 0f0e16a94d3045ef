"""What a hostile client found, each answered without harm: audio with more channels than the
pipeline takes, unbounded request heads, a nested cursor, a body that ends early, raw input
echoed in errors. After each: the inference processes are the same ones, nothing is stored
(the `stored` fixture), and `/metrics` counts no 5xx."""

from __future__ import annotations

import base64
import re
import socket
import time
import wave
from array import array
from pathlib import Path

import httpx
import pytest

from tests.support import Server, assert_error
from tests.test_inference import inference_processes

API = "/api/v1/recordings"
OPENAI = "/v1/audio/transcriptions"


@pytest.fixture(scope="module")
def server(tmp_path_factory, assets):
    srv = Server(
        tmp_path_factory.mktemp("hostile") / "data",
        # Retention 0: what a test adds, it can delete again.
        env={"AUDIODAS_BODY_TIMEOUT_S": "3", "AUDIODAS_RETENTION_DAYS": "0"},
    ).start()
    # The inference processes start with the first call: start them, so each test can check
    # that they are the very same ones afterwards.
    with (assets / "beckett.wav").open("rb") as f:
        assert httpx.post(f"{srv.url}{OPENAI}", files={"file": f}, timeout=120).status_code == 200
    yield srv
    srv.stop()


def inference(server) -> dict:
    """The inference processes (their pids) and what has gone wrong with them so far."""
    deadline = time.monotonic() + 10
    while True:
        engine = httpx.get(f"{server.url}/healthz").json().get("engine")
        pids = sorted(p.pid for p in inference_processes(server))
        if engine and pids and len(pids) == engine["inference"]["processes"]:
            return {"pids": pids, **engine["inference"]}
        assert time.monotonic() < deadline, (engine, pids)
        time.sleep(0.2)


def server_errors(server) -> list[str]:
    """Every /metrics request count with a 5xx status, but /healthz's: its 503 is an answer
    (no engine has reported yet, as while the server starts), not a failure."""
    metrics = httpx.get(f"{server.url}/metrics").text
    return re.findall(
        r'^audiodas_http_request_duration_seconds_count\{(?!route="/healthz").*status="5\d\d".*$',
        metrics,
        re.M,
    )


@pytest.fixture(autouse=True)
def unharmed(server, stored):
    before = inference(server)
    errors = server_errors(server)
    yield
    assert inference(server) == before
    assert server_errors(server) == errors


def many_channels(path: Path, channels: int, seconds: int = 2) -> Path:
    """A valid PCM WAV with this many channels, a 400 Hz square wave in each."""
    rate = 16000
    tone = [8000 if (i // 20) % 2 else -8000 for i in range(rate * seconds)]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(array("h", (s for s in tone for _ in range(channels))).tobytes())
    return path


@pytest.mark.parametrize("channels", [9, 64])
def test_more_than_eight_channels_is_refused_before_any_inference(
    server, tmp_path, channels: int
) -> None:
    clip = many_channels(tmp_path / f"ch{channels}.wav", channels)
    for path in (API, OPENAI):
        with clip.open("rb") as f:
            answer = httpx.post(f"{server.url}{path}", files={"file": f}, timeout=60)
        assert_error(answer, 415, "unsupported_media_type")
        error = answer.json()["error"]  # OpenAI's shape on its route
        detail = error["message"] if isinstance(error, dict) else answer.json()["detail"]
        assert f"{channels} channels" in detail


def test_eight_channels_are_still_transcribed(server, tmp_path) -> None:
    clip = many_channels(tmp_path / "ch8.wav", 8)
    with clip.open("rb") as f:
        answer = httpx.post(f"{server.url}{OPENAI}", files={"file": f}, timeout=60)
    assert answer.status_code == 200, answer.text


def rss_mib(server) -> float:
    return sum(p.memory_info().rss for p in server.processes() if p.is_running()) / 2**20


def send_head(server, head: bytes) -> bytes:
    """Send `head` as fast as the server takes it; what the server answered."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    try:
        for at in range(0, len(head), 1 << 16):
            sock.sendall(head[at : at + (1 << 16)])
    except OSError:  # answered and closed before the head was all sent
        pass
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError:
        pass
    sock.close()
    return answer


def test_request_heads_are_bounded_and_answered_431_at_once(server) -> None:
    start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for head in (
        start + b"X-Big: " + b"a" * (20 << 20) + b"\r\n\r\n",  # one 20 MiB header
        start + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 1000) for i in range(100)) + b"\r\n",
        b"GET /healthz?" + b"q" * (20 << 10) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ):
        answer = send_head(server, head)
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:200]
        assert b'"error":"headers_too_large"' in rest
    ok = send_head(server, start + b"X-Fine: " + b"c" * 15000 + b"\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 "), ok[:200]


def test_unfinished_huge_header_lines_cost_no_memory(server) -> None:
    before = rss_mib(server)
    sockets = []
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(sock)
    answers = []
    for sock in sockets:  # each sends on (never ending the line) until it is cut off
        sock.settimeout(10)
        try:
            for _ in range(50 * 16):  # up to 50 MiB
                sock.sendall(b"x" * (1 << 16))
        except OSError:
            pass
        try:
            answers.append(sock.recv(100))
        except OSError:
            answers.append(b"reset")
        sock.close()
    assert all(a.startswith(b"HTTP/1.1 431") or a == b"reset" for a in answers), answers
    assert any(a.startswith(b"HTTP/1.1 431") for a in answers), answers
    assert rss_mib(server) - before < 8, (before, rss_mib(server))


@pytest.mark.database
def test_a_tampered_or_nested_cursor_is_400(server) -> None:
    nested = base64.urlsafe_b64encode(b"[" * 1000 + b"]" * 1000).decode()
    for cursor in (
        nested,
        "A" * 5000,
        "not base64!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ):
        answer = httpx.get(f"{server.url}{API}", params={"cursor": cursor})
        assert_error(answer, 400, "invalid_cursor")


@pytest.mark.database
def test_cursor_pages_still_walk_the_library(server, stored, audio_files) -> None:
    added = []
    for name in ("a.mp3", "b.mp3"):
        with audio_files["short_mp3"].open("rb") as f:
            added.append(httpx.post(f"{server.url}{API}", files={"file": (name, f)}).json()["id"])
    seen, cursor = [], None
    while True:
        page = httpx.get(
            f"{server.url}{API}", params={"limit": 1, "cursor": cursor} if cursor else {"limit": 1}
        ).json()
        seen += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    library = httpx.get(f"{server.url}{API}", params={"limit": 500}).json()["items"]
    assert seen == [item["id"] for item in library] and set(added) <= set(seen)
    for rec in added:  # the library as it was
        assert httpx.delete(f"{server.url}{API}/{rec}").status_code == 200


def test_a_client_that_goes_away_is_not_a_server_error(server) -> None:
    body = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
    head = (
        f"POST {API} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Length: {len(body) + 50000}\r\n"  # promises more than it sends
        "Content-Type: multipart/form-data; boundary=XyZ\r\n\r\n"
    ).encode()
    log_before = len(server.read_log())
    for ending in (socket.SHUT_WR, None):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(head + body + b"x" * 1000)
        time.sleep(0.3)
        if ending is not None:
            sock.shutdown(ending)
        sock.close()
    time.sleep(1)
    log = server.read_log()[log_before:]
    assert "Traceback" not in log and "ClientDisconnect" not in log, log
    assert log.count("the client went away") == 2


def test_errors_quote_input_shortened_and_escaped(server) -> None:
    answer = httpx.get(f"{server.url}{API}/{'x' * 10000}%00%1b[31m")
    assert_error(answer, 404, "not_found")
    assert len(answer.json()["detail"]) < 120


def test_a_bad_domain_is_quoted_escaped(server, audio_files) -> None:
    with audio_files["short_mp3"].open("rb") as f:
        answer = httpx.post(
            f"{server.url}{API}", files={"file": f}, data={"domain": "evil\x00\x1b[31m" + "y" * 500}
        )
    assert_error(answer, 400, "invalid_field")
    detail = answer.json()["detail"]
    assert "'evil\\x00\\x1b[31m" in detail and "\x00" not in detail and "y" * 100 not in detail
