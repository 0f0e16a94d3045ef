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
    server = start_server(audiodas_database_url=database_url)
    original = audio_files["wav"]
    body = original.read_bytes()

    accepted = upload(server, original, domain="economics")
    assert accepted.status_code == 202, accepted.text
    rec = accepted.json()
    assert accepted.headers["location"] == f"{API}/{rec['id']}"
    assert rec["status"] == "queued"
    assert rec["sha256"] == hashlib.sha256(body).hexdigest()
    assert rec["size_bytes"] == len(body)
    assert rec["content_type"] == "audio/wav"
    assert rec["sample_rate"] == 48000 and rec["channels"] == 1
    assert rec["duration_s"] == pytest.approx(44.37, abs=0.05)
    assert rec["domain"] == "economics"
    assert [s["name"] for s in rec["stages"]] == ["archive", "echo", "transcribe", "summarize"]
    assert all(s["status"] == "pending" for s in rec["stages"])

    got = httpx.get(f"{server.url}{API}/{rec['id']}").json()
    assert unlinked(got) == unlinked(rec)
    assert got["retention_until"].startswith(str(int(got["created_at"][:4]) + 5))

    listed = httpx.get(f"{server.url}{API}").json()
    assert [r["id"] for r in listed["items"]] == [rec["id"]]
    assert listed["next_cursor"] is None

    whole = httpx.get(f"{server.url}{API}/{rec['id']}/stream")
    assert whole.status_code == 200
    assert whole.content == body
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["etag"] and whole.headers["last-modified"]
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
