"""Records to defend, end to end on `audiodas serve` with its engine and keys required: a legal
hold that outlasts retention, a deletion receipt, the audit trail and `audiodas audit verify`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from audiodas.config import Settings
from tests.support import Server

# Storage and queue: also run with every server on PostgreSQL.
pytestmark = pytest.mark.database

API = "/api/v1/recordings"


def audit_verify(server: Server) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audiodas", "audit", "verify"],
        env=server.node_env, capture_output=True, text=True,
    )  # fmt: skip


def test_a_held_recording_outlasts_retention_and_its_deletion_leaves_a_receipt(
    start_server, audio_files
) -> None:
    server = start_server(
        timeout=120, audiodas_embedded_worker="true", audiodas_auth="required",
        audiodas_retention_days=0, audiodas_access_cache_s=0,
    )  # fmt: skip
    admin = {"Authorization": f"Bearer {server.create_key('admin', 'records-officer')}"}
    with audio_files["short_mp3"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}, headers=admin).json()
    url = f"{server.url}{API}/{rec['id']}"
    done = wait_finished_with(server, rec["id"], admin)
    archive = httpx.get(f"{url}/stream?variant=archive", headers=admin).content
    assert hashlib.sha256(archive).hexdigest() == done["variants"]["archive"]["sha256"]

    held = httpx.put(f"{url}/hold", json={"reason": "dispute 2026-114"}, headers=admin)
    assert held.status_code == 200 and held.json()["hold"]["reason"] == "dispute 2026-114"
    refused = httpx.delete(url, headers=admin)  # retention has run out: the hold stands
    assert refused.status_code == 409 and refused.json()["error"] == "legal_hold"
    assert "dispute 2026-114" in refused.json()["detail"]
    assert httpx.get(f"{url}/stream", headers=admin).status_code == 200
    released = httpx.request("DELETE", f"{url}/hold", json={"reason": "settled"}, headers=admin)
    assert released.status_code == 200 and released.json()["hold"] is None

    gone = httpx.delete(url, headers=admin)
    assert gone.status_code == 200, gone.text
    receipt = gone.json()
    files = {f["variant"]: f for f in receipt["files"]}
    assert files["archive"]["sha256"] == hashlib.sha256(archive).hexdigest()
    assert files["original"]["sha256"] == rec["sha256"]
    assert receipt["by"] == "records-officer" and receipt["recording"]["id"] == rec["id"]
    assert httpx.get(url, headers=admin).status_code == 404

    trail = httpx.get(f"{server.url}/api/v1/audit", params={"recording_id": rec["id"]},
                      headers=admin).json()["items"]  # fmt: skip
    assert [e["action"] for e in trail] == ["delete", "release", "hold", "upload"]
    assert {e["actor"] for e in trail} == {"records-officer"}
    assert trail[0]["detail"] == receipt  # kept after the recording is gone
    keys = httpx.get(f"{server.url}/api/v1/audit", params={"action": "key_created"},
                     headers=admin).json()["items"]  # fmt: skip
    assert keys[0]["detail"]["name"] == "records-officer" and keys[0]["actor"] == "local"

    verified = audit_verify(server)
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    # The trail outlives a restart, and what comes after continues the same chain.
    server.stop()
    server.start(timeout=120)
    with audio_files["short_mp3"].open("rb") as f:
        httpx.post(f"{server.url}{API}", files={"file": f}, headers=admin)
    after = httpx.get(f"{server.url}/api/v1/audit", headers=admin).json()["items"]
    assert after[0]["action"] == "upload" and after[0]["prev_hash"] == trail[0]["hash"]
    verified = audit_verify(server)
    assert verified.returncode == 0 and f"{after[0]['seq']} entries" in verified.stdout
    # Someone edits the trail behind the product's back: the verifier names the entry.
    settings = Settings(
        data_dir=server.data_dir, database_url=server.node_env.get("AUDIODAS_DATABASE_URL")
    )
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as connection:
        seq = connection.execute(
            text("SELECT seq FROM audit_log WHERE action = 'hold'")
        ).scalar_one()
        connection.execute(
            text("UPDATE audit_log SET actor = 'nobody' WHERE seq = :seq"), {"seq": seq}
        )
    engine.dispose()
    broken = audit_verify(server)
    assert broken.returncode == 1
    assert f"broken at entry {seq}: its contents were changed" in broken.stderr


def wait_finished_with(server: Server, recording_id: str, headers: dict) -> dict:
    """tests.test_engine.wait_finished, with a key."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rec = httpx.get(f"{server.url}{API}/{recording_id}", headers=headers).json()
        if rec["status"] in ("done", "failed", "rejected"):
            assert rec["status"] == "done", rec
            return rec
        time.sleep(0.2)
    raise AssertionError("not finished")


def test_the_original_goes_after_its_own_retention_and_the_archive_stays(
    start_server, audio_files
) -> None:
    server = start_server(
        timeout=120, audiodas_embedded_worker="true", audiodas_original_retention_days=0,
        audiodas_original_sweep_s=1,
    )  # fmt: skip
    with audio_files["short_mp3"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}).json()
    url = f"{server.url}{API}/{rec['id']}"
    wait_finished_with(server, rec["id"], {})
    deadline = time.monotonic() + 30
    while (now := httpx.get(url).json())["original_removed_at"] is None:
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    assert "original" not in now["variants"] and "archive" in now["variants"]
    gone = httpx.get(f"{url}/stream?variant=original")
    assert gone.status_code == 410 and gone.json()["error"] == "original_removed"
    assert httpx.get(f"{url}/stream?variant=archive").status_code == 200
    assert not list((server.data_dir / "recordings" / rec["id"]).glob("original*"))
    removed = httpx.get(f"{server.url}/api/v1/audit",
                        params={"action": "original_removed"}).json()["items"]  # fmt: skip
    assert removed[0]["detail"]["sha256"] == rec["sha256"]
