"""CPU per request of the API's application alone (no HTTP server, no sockets), per route,
against a baseline revision in the same run: one step of issue 45 at a time.

    python bench/app_cpu.py [--baseline HEAD~1] [--requests 3000] [--rounds 3] [--data DIR]

The application is called in-process through ASGI, as uvicorn calls it, on a data folder of
processed recordings (made first unless `--data` names one): a list of 50, one recording, a
64 KiB and a 1 MiB Range, a finished recording's events, health. The working tree and `--baseline` (a
git worktree of it) take turns, `--rounds` times each, each in a fresh process; the best of
each is printed, CPU time of the process (`time.process_time`), not wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1/recordings"


def routes(recording_id: str) -> dict[str, tuple[str, bytes, list]]:
    return {
        "list (50)": (API, b"limit=50", []),
        "read one": (f"{API}/{recording_id}", b"", []),
        "stream 64 KiB": (
            f"{API}/{recording_id}/stream",
            b"variant=archive",
            [(b"range", b"bytes=0-65535")],
        ),
        "stream 1 MiB": (
            f"{API}/{recording_id}/stream",
            b"variant=original",
            [(b"range", b"bytes=0-1048575")],
        ),
        "events (done)": (f"{API}/{recording_id}/events", b"", []),
        "healthz": ("/healthz", b"", []),
    }


async def measure(data: Path, requests: int) -> dict[str, float]:
    """In the child: ms of CPU per request per route."""
    import sqlite3

    from audiodas.api.app import create_app
    from audiodas.config import Settings

    app = create_app(Settings(data_dir=data))
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    with sqlite3.connect(data / "audiodas.db") as db:
        (recording_id,) = db.execute(
            "SELECT id FROM recordings WHERE status = 'done' ORDER BY created_at LIMIT 1"
        ).fetchone()

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def call(path: str, query: bytes, headers: list) -> int:
        status = 0

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": query, "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), *headers],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
        return status

    figures = {}
    for name, request in routes(recording_id).items():
        for _ in range(200):  # warm: caches, renderings, prepared statements
            status = await call(*request)
        assert status in (200, 206, 503), (name, status)  # 503: health with no engine running
        started_cpu = time.process_time()
        for _ in range(requests):
            await call(*request)
        figures[name] = (time.process_time() - started_cpu) * 1000 / requests
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    return figures


def child(tree: Path, data: Path, requests: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "AUDIODAS_LOG_LEVEL": "warning"}
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(data), "--requests", str(requests)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(output.splitlines()[-1])


def make_data(work: Path) -> Path:
    """A data folder with processed recordings, made by a server of the working tree."""
    sys.path.insert(0, str(ROOT))
    from bench.load.run import fill_first_page, make_clips, preload
    from tests.support import Server

    server = Server(work / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}).start(timeout=120)
    try:
        clips = make_clips(work)
        preload(server, clips, 3)
        fill_first_page(server, clips, 3)
    finally:
        server.stop()
    return work / "data"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="HEAD~1")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop

        print(json.dumps(uvloop.run(measure(args.child, args.requests))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="audiodas-app-cpu-"))
    data = args.data or make_data(work)
    baseline = work / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(baseline),
                    args.baseline], check=True)  # fmt: skip
    try:
        best: dict[str, dict[str, float]] = {"baseline": {}, "this tree": {}}
        for _ in range(args.rounds):
            for label, tree in (("baseline", baseline), ("this tree", ROOT)):
                for name, ms in child(tree, data, args.requests).items():
                    best[label][name] = min(ms, best[label].get(name, ms))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                       check=True)  # fmt: skip
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"CPU ms per request of the application in-process, best of {args.rounds} rounds of "
          f"{args.requests}; baseline {args.baseline} ({revision})")  # fmt: skip
    print(f"{'route':16} {'baseline':>9} {'this tree':>9} {'ratio':>6}")
    for name, ms in best["baseline"].items():
        ours = best["this tree"][name]
        print(f"{name:16} {ms:9.3f} {ours:9.3f} {ours / ms:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
