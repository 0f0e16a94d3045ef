"""The in-process tier: the API's contract through Starlette's TestClient, on an app built
around a runtime whose queue and bus are in memory (`audiodas.testing`), on SQLite and on the
test PostgreSQL. Milliseconds a request; no process, socket or model is started."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from audiodas.api.app import create_app
from audiodas.config import Settings
from audiodas.domain import Stage, StageName, StageStatus, Transcript
from audiodas.testing import FakeClock, FakeInference, in_memory_runtime
from tests.support import stored_files

API = "/api/v1/recordings"
BASE_URL = "http://127.0.0.1:8000"  # what a browser on the embedded default sends as Host


@pytest.fixture
def database(migrated_url: str) -> str:
    return migrated_url


@pytest.fixture
def make_client(tmp_path: Path, database: str) -> Iterator[Callable[..., TestClient]]:
    """An app on a data folder of the test's own; `settings` override the defaults (as the
    AUDIODAS_* variables would), `transcript` is what the fake model hears (or `inference`
    answers) and `clock` the time the service reads."""
    opened: list[TestClient] = []

    def make(
        transcript: str = "Hello world.",
        inference: FakeInference | None = None,
        clock: FakeClock | None = None,
        **settings: object,
    ) -> TestClient:
        data_dir = tmp_path / f"data{len(opened)}"
        config = Settings(data_dir=data_dir, database_url=database, **settings)  # type: ignore[arg-type]
        inference = inference or FakeInference(transcript)
        app = create_app(runtime=in_memory_runtime(config, clock), inference=inference)
        client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
        client.__enter__()  # runs the lifespan
        client.data_dir = data_dir  # type: ignore[attr-defined]
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def snapshot(client: TestClient) -> tuple[list[str], list[str]]:
    """What is stored: recording ids (through the API) and files in the store."""
    ids = [r["id"] for r in client.get(API, params={"limit": 500}).json()["items"]]
    return ids, stored_files(client.data_dir)  # type: ignore[attr-defined]


def upload(client: TestClient, path: Path, name: str | None = None, **fields: str):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return client.post(API, files={"file": (name or path.name, f)}, data=fields)


@pytest.fixture
def stored(client: TestClient, audio_files) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """One good recording already stored; it must survive the test's refusals unchanged: same
    recordings, same files, no temp file."""
    accepted = upload(client, audio_files["short_mp3"], "keep.mp3")
    assert accepted.status_code == 202, accepted.text
    before = snapshot(client)
    yield accepted.json()
    assert snapshot(client) == before
    kept = client.get(f"{accepted.headers['location']}/stream").content
    assert kept == audio_files["short_mp3"].read_bytes()


def store_transcript(client: TestClient, recording_id: str, transcript: Transcript) -> None:
    """The recording transcribed as `transcript`, as the engine's transcribe stage stores it."""
    now = datetime.now(UTC)
    client.app.state.runtime.repository.save_stage(  # type: ignore[attr-defined]
        recording_id, Stage(StageName.TRANSCRIBE, StageStatus.DONE, now, now, None, 1),
        transcript=transcript, now=now,
    )  # fmt: skip
