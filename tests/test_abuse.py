"""Hostile clients against a live server, for what needs one: bodies that stall (the HTTP
server's timeout and file descriptors) and schemathesis over the whole OpenAPI document. The
hostile bodies themselves are in-process: tests/api/test_multipart.py."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from audiodas.adapters.storage import temp_files
from tests.api.test_multipart import BOUNDARY, END, part
from tests.support import Server

API = "/api/v1/recordings"
BODY_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("abuse") / "data",
        env={"AUDIODAS_MAX_UPLOAD_MB": "2", "AUDIODAS_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)},
    ).start()
    yield srv
    srv.stop()


def open_fds(server) -> int:
    return sum(p.num_fds() for p in server.processes() if p.is_running())


def test_twenty_stalled_bodies_get_408_and_are_let_go(server, stored, audio_files) -> None:
    body = part(b"file", audio_files["short_mp3"].read_bytes(), b"a.mp3") + END
    head = (
        f"POST {API} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n\r\n"
    ).encode()
    fds_before = open_fds(server)
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    started = time.monotonic()
    for sock in sockets:
        sock.sendall(head + body[: len(body) // 2])  # then nothing more
        sock.settimeout(BODY_TIMEOUT_S + 10)
    time.sleep(0.5)
    assert len(temp_files(server.data_dir)) == 20  # each half-received upload on disk
    for sock in sockets:
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
        sock.close()
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 408 Request Timeout"
        assert b'"error":"body_timeout"' in rest and b"connection: close" in rest.lower()
    assert BODY_TIMEOUT_S - 0.5 < time.monotonic() - started < BODY_TIMEOUT_S + 5
    assert not temp_files(server.data_dir)
    assert open_fds(server) <= fds_before  # no descriptor kept for them


def test_the_openapi_document_holds_for_every_answer(start_server, audio_files) -> None:
    """Schemathesis against a live server with keys required, as an admin: no server error,
    and every status, header and body as documented (401 without the key, or with a wrong one,
    included). Positive-data acceptance is left out: a schema-valid body is not a decodable
    audio file, which the schema cannot say."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency"
    server = start_server(audiodas_auth="required")
    key = server.create_key("admin", "schemathesis")
    with audio_files["short_mp3"].open("rb") as f:  # something to read, stream and delete
        stored = httpx.post(
            f"{server.url}{API}", files={"file": f}, headers={"Authorization": f"Bearer {key}"}
        )
    assert stored.status_code == 202
    result = subprocess.run(
        [
            st, "run", f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {key}",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--exclude-path-regex", "/events$",  # an unfinished recording's stream never ends
            "--max-examples", "100", "--request-timeout", "10", "--seed", "1",
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:]
    assert "generated" in result.stdout
