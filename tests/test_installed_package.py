"""The package as users install it: the wheel built from this tree, installed without extras
into a clean virtual environment (what the image's runtime stage does), set up and started as
the README's "Without make" says, in an empty folder. A module the package imports that only
the test extra brings shows here as an engine that never starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, WEBHOOK_SECRET, Receiver, Server, signed_correctly
from tests.test_engine import API, upload, wait_finished

# What a source distribution holds (the wheel is built from a copy: the tree stays as it is).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` folder of a fresh venv holding the wheel and nothing else of this tree."""
    assert (ROOT / "src/audiodas/web/static/dist/edge-worker.js").exists(), "`make web` first"
    folder = tmp_path_factory.mktemp("installed")
    source = folder / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    quiet = ["--quiet", "--disable-pip-version-check"]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", *quiet, "--no-deps", "-w", folder / "dist", source], check=True)
    (wheel,) = (folder / "dist").glob("audiodas-*.whl")
    subprocess.run([sys.executable, "-m", "venv", folder / "venv"], check=True)
    bin_dir = folder / "venv" / "bin"
    subprocess.run([bin_dir / "pip", "install", *quiet, wheel], check=True)
    subprocess.run([bin_dir / "audiodas", "models", "speakers"], check=True)
    return bin_dir


def test_the_installed_package_serves_processes_and_calls_back(
    installed: Path, assets: Path, tmp_path: Path
) -> None:
    nothing_else = subprocess.run(
        [installed / "python", "-c", "import pytest"], capture_output=True
    )
    assert nothing_else.returncode != 0, "the clean venv holds a test dependency"
    receiver = Receiver()
    server = Server(
        tmp_path / "data",
        command=[str(installed / "audiodas")],
        cwd=tmp_path,
        env={
            "AUDIODAS_EMBEDDED_WORKER": "true",
            "AUDIODAS_WEBHOOK_URLS": f"{receiver.url}/hook",
            "AUDIODAS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AUDIODAS_WEBHOOK_ALLOW_PRIVATE": "true",
            "PYTHONPATH": "",  # nothing of this tree
        },
    )
    try:
        server.start(timeout=120)  # /healthz 200: the database answers and an engine reports
        recording = upload(server, assets / "beckett.wav")
        finished = wait_finished(server, recording["id"])
        (event,) = receiver.wait(1)
        health = httpx.get(f"{server.url}/healthz")
        archive = httpx.get(
            f"{server.url}{API}/{recording['id']}/stream?variant=archive",
            headers={"Range": "bytes=0-99"},
        )
    finally:
        receiver.close()
        server.stop()
    assert finished["status"] == "done", finished
    assert "fail better" in finished["transcript"].lower() and finished["summary"]
    assert event["type"] == "recording.done" and event["data"]["id"] == recording["id"]
    assert signed_correctly(receiver.received[0])
    assert health.status_code == 200 and health.json()["engine"]["processing"], health.text
    assert archive.status_code == 206 and len(archive.content) == 100
    log = server.read_log()
    assert "exited" not in log and "Traceback" not in log, log  # no process was restarted
