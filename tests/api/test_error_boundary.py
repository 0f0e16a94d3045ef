"""The machine's failures are answered as the README says, from a repository or a store that
raises as a real one does at its edge (StorageFull, DatabaseUnavailable; tests/unit/
test_failures.py checks the translation): a database out of reach 503 with Retry-After, a full disk 507 with
nothing half-stored, anything else 500 with a request id and never a trace."""

from __future__ import annotations

import pytest

from audiodas.domain import DatabaseUnavailable, StorageFull
from tests.api.conftest import API, snapshot, upload
from tests.support import assert_error


def unreachable(*args: object, **kwargs: object) -> None:
    raise DatabaseUnavailable("(sqlite3.OperationalError) unable to open database")


async def unreachable_awaited(*args: object, **kwargs: object) -> None:
    unreachable()


def disk_full(*args: object, **kwargs: object) -> None:
    raise StorageFull("[Errno 28] No space left on device")


async def surprise(*args: object, **kwargs: object) -> None:
    raise RuntimeError("secret internals at /srv/audiodas/data")


@pytest.fixture
def client(make_client):
    return make_client(retention_days=0)  # what a test adds, it can delete


@pytest.fixture
def runtime(client):
    return client.app.state.runtime


def test_a_database_out_of_reach_is_503_with_retry_after(client, runtime, stored, monkeypatch):
    for name in ("version", "versions"):  # what the API awaits first for these two
        monkeypatch.setattr(runtime.service.reads, name, unreachable_awaited)
    for path in (API, f"{API}/{stored['id']}"):
        answer = client.get(path)
        assert_error(answer, 503, "database_unavailable")
        assert answer.headers["retry-after"] == "5"
    monkeypatch.undo()
    assert client.get(f"{API}/{stored['id']}").status_code == 200


def test_a_full_disk_is_507_and_nothing_is_half_stored(client, runtime, stored, audio_files):
    before = snapshot(client)
    real_put = runtime.store.put
    runtime.store.put = disk_full
    try:
        answer = upload(client, audio_files["short_mp3"], "full.mp3")
    finally:
        runtime.store.put = real_put
    assert_error(answer, 507, "insufficient_storage")
    assert answer.headers["retry-after"] == "60"
    assert snapshot(client) == before
    again = upload(client, audio_files["short_mp3"], "again.mp3")  # space is back
    assert again.status_code == 202
    assert client.delete(again.headers["location"]).status_code == 200


def test_anything_else_is_500_with_a_request_id_and_no_internals(
    client, runtime, stored, monkeypatch, caplog
):
    monkeypatch.setattr(runtime.service.reads, "get", surprise)  # what a read of it awaits
    answer = client.get(f"{API}/{stored['id']}")
    assert_error(answer, 500, "internal_error")
    request_id = answer.json()["request_id"]
    assert answer.headers["x-request-id"] == request_id
    assert "/srv" not in answer.text and "RuntimeError" not in answer.text
    assert any(request_id in record.getMessage() for record in caplog.records)
