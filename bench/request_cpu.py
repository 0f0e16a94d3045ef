"""CPU per request, per route, of the HTTP process: what issue 45 asks to halve. Read from
/proc (user + system time of the server's HTTP process, and of nginx's workers), never from
wall time, with the load generator (wrk) pinned to a core of its own (taskset) and the HTTP
process to the other, so the generator's share cannot be mistaken for the product's. nginx
serves the same JSON and files in the same run, as the floor.

    python bench/request_cpu.py [--seconds 8] [--connections 20] [--postgres] [--busy]

`--busy`: the engine processes one short upload a second throughout (the stream scenario of
bench/load/run.py). Prints a table: requests, CPU ms per request for audiodas and nginx.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load.run import (  # noqa: E402
    API,
    LIST_PAGE,
    Nginx,
    ensure_tools,
    fill_first_page,
    machine,
    make_clips,
    mirror_for_nginx,
    preload,
    upload,
)
from tests.support import PostgresCluster, Server  # noqa: E402

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def routes(fixtures: dict) -> dict[str, tuple[str, list[str]]]:
    """Each route a listener asks, as a path and wrk's extra headers."""
    rid, sizes = max(fixtures["recordings"].items(), key=lambda item: item[1]["original"])
    return {
        "list (50)": (f"{API}?limit={LIST_PAGE}", []),
        "read one": (f"{API}/{rid}", []),
        "stream 64 KiB": (f"{API}/{rid}/stream?variant=archive", ["-H", "Range: bytes=0-65535"]),
        "events (done)": (f"{API}/{rid}/events", []),
        "healthz": ("/healthz", []),
    }


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime
    return total


def pin(pids: list[int], core: int) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True,
                       capture_output=True)  # fmt: skip


def drive(url: str, path: str, headers: list[str], seconds: int, connections: int) -> int:
    """wrk on core 1; the number of requests it completed."""
    output = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *headers,
         url + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(re.search(r"(\d+) requests in", output).group(1))


def measure(pids: list[int], url: str, path: str, headers: list[str], args) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    before = cpu_seconds(pids)
    requests = drive(url, path, headers, args.seconds, args.connections)
    return requests, (cpu_seconds(pids) - before) * 1000 / max(requests, 1)


def http_processes(server: Server) -> list[int]:
    """The uvicorn processes `audiodas serve` runs (its `http-worker` children)."""
    return [p.pid for p in server.processes() if "http-worker" in " ".join(p.cmdline())]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="audiodas-cpu-"))
    cluster = PostgresCluster().start() if args.postgres else None
    env = {"AUDIODAS_EMBEDDED_WORKER": "true", "AUDIODAS_API_WORKERS": "1"}
    if cluster:
        env["AUDIODAS_DATABASE_URL"] = cluster.create_database("bench")
    server = Server(work / "data", env=env).start(timeout=120)
    stop = threading.Event()
    try:
        clips = make_clips(work)
        fixtures = preload(server, clips, 3)
        fill_first_page(server, clips, 3)
        nginx = Nginx(mirror_for_nginx(server, fixtures, work / "site"), work / "nginx")
        ours = http_processes(server)
        theirs = [c.pid for c in psutil.Process(nginx.process.pid).children()]
        pin(ours + theirs, 0)
        if args.busy:  # one short upload a second, processed as it arrives

            def trickle() -> None:
                i = 0
                while not stop.is_set():
                    upload(server, clips["short"][i % len(clips["short"])])
                    i += 1
                    stop.wait(1.0)

            threading.Thread(target=trickle, daemon=True).start()
        print(f"{machine()} · {'postgresql' if cluster else 'sqlite'} · "
              f"engine {'busy' if args.busy else 'idle'} · {args.connections} connections, "
              f"{args.seconds} s per route, wrk on core 1, the servers on core 0")  # fmt: skip
        print(f"{'route':16} {'audiodas req':>12} {'CPU ms/req':>10} {'nginx req':>10} "
              f"{'CPU ms/req':>10} {'ratio':>6}")  # fmt: skip
        total_ours = total_requests = 0.0
        for name, (path, headers) in routes(fixtures).items():
            n_ours, cpu_ours = measure(ours, server.url, path, headers, args)
            n_theirs, cpu_theirs = measure(theirs, nginx.url, path, headers, args)
            total_ours += cpu_ours * n_ours
            total_requests += n_ours
            print(f"{name:16} {n_ours:12d} {cpu_ours:10.3f} {n_theirs:10d} {cpu_theirs:10.3f} "
                  f"{cpu_ours / max(cpu_theirs, 1e-6):5.1f}x")  # fmt: skip
        print(f"{'all routes':16} {int(total_requests):12d} {total_ours / total_requests:10.3f}")
        nginx.stop()
    finally:
        stop.set()
        server.stop()
        if cluster:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
