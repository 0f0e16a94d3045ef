"""A smoke test of each route family through a real `audiodas serve`, on SQLite and
PostgreSQL. The API's contract in detail is the in-process tier's (tests/api/)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.support import unlinked

# Storage, queue and events: also run with every server on PostgreSQL.
pytestmark = pytest.mark.database

API = "/api/v1/recordings"


def upload(server, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(
            f"{server.url}{API}", files={"file": (path.name, f)}, data=fields, timeout=60
        )


def test_upload_get_list_stream(start_server, database_url: str, audio_files) -> None:
    """Through uvicorn and a real database: what is uploaded is read, listed and streamed back
    (every field and header is the in-process tier's, tests/api/test_recordings.py)."""
    server = start_server(audiodas_database_url=database_url)
    body = audio_files["wav"].read_bytes()
    accepted = upload(server, audio_files["wav"], domain="economics")
    assert accepted.status_code == 202, accepted.text
    rec = accepted.json()
    assert rec["sha256"] == hashlib.sha256(body).hexdigest() and rec["domain"] == "economics"
    got = httpx.get(f"{server.url}{accepted.headers['location']}").json()
    assert unlinked(got) == unlinked(rec)
    listed = httpx.get(f"{server.url}{API}").json()
    assert [r["id"] for r in listed["items"]] == [rec["id"]]
    whole = httpx.get(f"{server.url}{API}/{rec['id']}/stream")
    assert whole.status_code == 200 and whole.content == body
    part = httpx.get(f"{server.url}{API}/{rec['id']}/stream", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == body[100:200]


def test_health_metrics_and_openapi(start_server, audio_files) -> None:
    server = start_server()
    upload(server, audio_files["wav"])
    health = httpx.get(f"{server.url}/healthz").json()
    assert (health["status"], health["database"]) == ("ok", "ok")
    assert health["engine"]["engines"] == 1 and not health["engine"]["processing"]  # API only
    text = httpx.get(f"{server.url}/metrics").text
    assert 'audiodas_uploads_total{outcome="accepted"} 1.0' in text
    assert 'audiodas_recordings{status="queued"} 1.0' in text
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/api/v1/recordings", "/api/v1/recordings/{recording_id}/stream"} <= set(paths)
    assert httpx.get(f"{server.url}/docs").status_code == 200
