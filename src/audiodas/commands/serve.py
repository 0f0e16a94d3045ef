"""`audiodas serve`: the HTTP API in several processes and the engine in a process of its own,
from one command; SIGTERM or Ctrl-C stops them all (HTTP finishes its requests, the engine
drains).

    audiodas serve ─┬─ engine (`audiodas worker`) ─┬─ inference process (AI slot 1)
                    │                              └─ inference process (AI slot 2)
                    └─ HTTP process (`audiodas http-worker`) × AUDIODAS_API_WORKERS

Each HTTP process listens on its own SO_REUSEPORT socket, so the kernel spreads connections
evenly over them (with one shared socket, whichever process wins `accept` keeps the
keep-alive connections: measured 10:1 here). Each child asks Linux to kill it if this process
dies (processes.die_with_parent), so even a SIGKILL of `audiodas serve` leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from audiodas.config import Settings
from audiodas.processes import SUPERVISOR_PID

log = logging.getLogger("audiodas.serve")

STARTUP_FAILURE = 3  # a child that exits with this cannot start (bad settings, port taken)


class Child:
    """A child process, restarted if it dies, until stopped. Started and watched from one
    thread that lives as long as the child should (Linux ties a child's death signal to the
    thread that started it)."""

    def __init__(
        self, name: str, command: list[str], stop_timeout: float, failed: threading.Event
    ) -> None:
        self.name = name
        self.command = command
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None
        self._failed = failed
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

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
            if code == STARTUP_FAILURE:
                log.error("%s could not start; stopping", self.name)
                self._failed.set()
                return
            log.error("%s exited (%s); starting it again in %.0f s", self.name, code, backoff)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def terminate(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop in %.0f s; killed", self.name, self.stop_timeout)
                self.process.kill()
                self.process.wait()
        self._thread.join()


def serve(settings: Settings, host: str, port: int) -> int:
    # Before any child imports prometheus_client: every process shares its metric files.
    metrics_dir = settings.run_path / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    os.environ["AUDIODAS_HOST"] = host  # the HTTP processes' default Host allowlist

    from audiodas.adapters.database import open_database

    try:
        held = hold_port(port)  # noqa: F841 (held while this function runs: until it stops)
        probe = listening_socket(host, port, reuse_port=False)  # free of anything else too
        probe.close()
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", host, port, exc.strerror or exc)
        return STARTUP_FAILURE
    open_database(settings).dispose()  # migrates once, before the processes that share it start

    stop, failed = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    python = [sys.executable, "-m", "audiodas"]
    engine = [*python, "worker", *([] if settings.embedded_worker else ["--inference-only"])]
    http = [*python, "http-worker", "--host", host, "--port", str(port)]
    children = [Child("engine", engine, settings.shutdown_grace_s + 15, failed)] + [
        Child(f"http-{i + 1}", http, 15, failed) for i in range(settings.api_workers)
    ]
    for child in children:
        child.start()
    log.info("serving on http://%s:%d with %d HTTP processes", host, port, settings.api_workers)
    while not (stop.wait(0.5) or failed.is_set()):
        pass
    started = time.monotonic()
    for child in children:
        child.terminate()
    for child in children:
        child.wait()
    log.info("stopped in %.1f s", time.monotonic() - started)
    return STARTUP_FAILURE if failed.is_set() else 0


def hold_port(port: int) -> socket.socket:
    """One `audiodas serve` per port on this machine (its network namespace): an abstract Unix
    socket named after the port, bound while it serves and gone with its process however that
    ends. The HTTP processes listen with SO_REUSEPORT (each its own socket, so that the kernel
    spreads connections evenly), which would otherwise let a second server started at the same
    moment share the port and split the traffic between two data folders."""
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0audiodas-serve-port-{port}")
    except OSError as exc:
        lock.close()
        raise OSError(exc.errno, f"another `audiodas serve` is serving on port {port}") from exc
    return lock


def listening_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    return sock


def run_http_worker(host: str, port: int) -> int:
    """One HTTP process: uvicorn on its own SO_REUSEPORT socket."""
    import uvicorn

    from audiodas.api.head_limits import BoundedHttpToolsProtocol

    config = uvicorn.Config(
        "audiodas.api.app:create_app",
        factory=True,
        http=BoundedHttpToolsProtocol,
        log_level="info",
        access_log=False,  # per-request logging costs the API; /metrics counts requests
        timeout_graceful_shutdown=5,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[listening_socket(host, port)])
    return 0 if server.started else STARTUP_FAILURE
