"""DELETE honours the legal retention of the archive copy."""

from __future__ import annotations

import httpx
import pytest

# Storage, queue and events: also run with every server on PostgreSQL.
pytestmark = pytest.mark.database

API = "/api/v1/recordings"


def test_delete_is_refused_under_retention(start_server, audio_files) -> None:
    server = start_server()
    with audio_files["ogg"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}).json()
    r = httpx.delete(f"{server.url}{API}/{rec['id']}")
    assert r.status_code == 409
    assert r.json()["error"] == "under_retention"
    assert rec["retention_until"][:10] in r.json()["detail"]
    assert httpx.get(f"{server.url}{API}/{rec['id']}/stream").status_code == 200


def test_delete_after_retention_removes_row_and_files(start_server, audio_files) -> None:
    server = start_server(audiodas_retention_days=0)
    with audio_files["ogg"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}).json()
    folder = server.data_dir / "recordings" / rec["id"]
    assert any(folder.iterdir())
    assert httpx.delete(f"{server.url}{API}/{rec['id']}").status_code == 200
    assert httpx.get(f"{server.url}{API}/{rec['id']}").status_code == 404
    assert not folder.exists()
    assert httpx.delete(f"{server.url}{API}/{rec['id']}").status_code == 404
