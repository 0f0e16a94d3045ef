"""`audiodas worker` beside an API-only server, idempotent stages, and `audiodas process`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from audiodas.commands.process import ingest_file
from audiodas.config import Settings
from audiodas.domain import STAGE_NAMES, RecordingStatus, StageStatus
from audiodas.runtime import open_engine, open_runtime
from tests.support import free_port
from tests.test_engine import stages, upload, wait_finished


@pytest.mark.database
def test_separate_worker_processes_uploads_and_drains_on_sigterm(
    start_server, assets, tmp_path
) -> None:
    server = start_server()  # API only
    env = server.node_env
    health = [sys.executable, "-m", "audiodas", "health"]
    assert subprocess.run(health, env=env).returncode == 1  # nothing processes here yet
    rec = upload(server, assets / "beckett.wav")
    worker = subprocess.Popen(
        [sys.executable, "-m", "audiodas", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        done = wait_finished(server, rec["id"], timeout=120)
        # The containers' health checks: a worker node, an API node, an API that is not there.
        assert subprocess.run(health, env=env).returncode == 0
        assert subprocess.run([*health, "--url", f"{server.url}/healthz"]).returncode == 0
        gone = f"http://127.0.0.1:{free_port()}/healthz"
        assert subprocess.run([*health, "--url", gone]).returncode == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err.decode()
    assert b"engine stopped" in err
    assert done["status"] == "done"
    assert all(s["status"] == "done" for s in stages(done).values())


def test_stages_are_idempotent(tmp_path: Path, assets: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    async def run_twice() -> tuple:
        runtime = open_runtime(settings)
        engine = open_engine(runtime)
        recording = await asyncio.to_thread(ingest_file, runtime, assets / "beckett.wav", None)
        first = await engine.pipeline.process(recording.id)
        # Run every stage again, as after a crash that lost their completion.
        for stage in first.stages.values():
            stage.status = StageStatus.PENDING
            runtime.repository.save_stage(first.id, stage, now=first.updated_at)
        runtime.repository.set_status(first.id, RecordingStatus.PROCESSING, first.updated_at)
        second = await engine.pipeline.process(recording.id)
        files = sorted(p.name for p in (settings.data_path / "recordings" / recording.id).iterdir())
        await engine.stop(0)
        await runtime.close()
        return first, second, files

    first, second, files = asyncio.run(run_twice())
    assert second.status == "done"
    assert all(second.stages[name].attempts == 2 for name in STAGE_NAMES)
    assert files == ["archive.m4a", "echo.mp3", "original.wav"]
    assert {k: (v.sha256, v.size_bytes, v.path) for k, v in first.variants.items()} == {
        k: (v.sha256, v.size_bytes, v.path) for k, v in second.variants.items()
    }
    assert (first.transcript, first.summary, first.segments) == (
        second.transcript,
        second.summary,
        second.segments,
    )


def test_process_command_runs_the_pipeline_with_progress(tmp_path: Path, assets: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiodas",
            "process",
            str(assets / "beckett.wav"),
            str(assets / "success.wav"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "4/4" in result.stderr  # the progress bars reached every stage
    assert "beckett.wav" in result.stdout and "done" in result.stdout
    assert (tmp_path / "data" / "audiodas.db").exists()
    assert len(list((tmp_path / "data" / "recordings").iterdir())) == 2
    missing = subprocess.run(
        [sys.executable, "-m", "audiodas", "process", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0


@pytest.mark.database
def test_api_only_server_leaves_uploads_queued(start_server, assets) -> None:
    server = start_server()
    rec = upload(server, assets / "beckett.wav")
    assert httpx.get(f"{server.url}/api/v1/recordings/{rec['id']}").json()["status"] == "queued"
