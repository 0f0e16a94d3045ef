"""`audiodas serve`: the HTTP API in several worker processes (uvicorn's) and the engine in a
process of its own, from one command; SIGTERM or Ctrl-C stops them all (the engine drains).

    audiodas serve ─┬─ engine process (`audiodas worker`) ─┬─ inference process (slot 1)
                    │                                     └─ inference process (slot 2)
                    └─ HTTP worker processes × AUDIODAS_API_WORKERS

Every child asks Linux to kill it if its parent dies (processes.die_with_parent), so even a
SIGKILL of `audiodas serve` leaves nothing running.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading

from audiodas.config import Settings

log = logging.getLogger("audiodas.serve")

SUPERVISOR_PID = "AUDIODAS_SUPERVISOR_PID"  # read by the children (api.app, cli worker)


class EngineProcess:
    """`audiodas worker` as a child, restarted if it dies, drained on stop. Started and watched
    from one thread that lives as long as the engine should (Linux ties a child's death signal
    to the thread that started it)."""

    def __init__(self, consume: bool, grace: float) -> None:
        self.command = [sys.executable, "-m", "audiodas", "worker"]
        if not consume:
            self.command.append("--inference-only")
        self.grace = grace
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engine-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            self.process = subprocess.Popen(self.command)
            self._started.set()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.error("the engine exited (%s); starting it again in %.0f s", code, backoff)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()  # the engine drains within its grace period
            try:
                process.wait(timeout=self.grace + 15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join()


def serve(settings: Settings, host: str, port: int) -> int:
    # Before anything imports prometheus_client: every process shares its metric files.
    metrics_dir = settings.run_path / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[SUPERVISOR_PID] = str(os.getpid())

    import uvicorn

    from audiodas.adapters.database import create_engine_for, migrate

    settings.data_path.mkdir(parents=True, exist_ok=True)
    database = create_engine_for(settings.sqlalchemy_url)
    migrate(database)  # once, before the processes that share the database start
    database.dispose()

    signals: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # uvicorn hands a signal on to the handler it found, once it has stopped serving.
        signal.signal(sig, lambda number, _frame: signals.append(number))

    engine = EngineProcess(settings.embedded_worker, settings.shutdown_grace_s)
    engine.start()
    try:
        uvicorn.run(
            "audiodas.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=settings.api_workers,
            log_level="info",
            access_log=False,  # per-request logging costs the API; /metrics counts requests
            timeout_graceful_shutdown=5,
        )
    finally:
        engine.stop()
    return 0
