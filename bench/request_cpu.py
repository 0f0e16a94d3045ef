"""CPU per request, per route, of the HTTP process: what issue 45 asks to halve. Read from
/proc (user + system time of the server's HTTP process, and of nginx's workers), never from
wall time, with the load generator (wrk) pinned to a core of its own (taskset) and the HTTP
process to the other, so the generator's share cannot be mistaken for the product's. nginx
serves the same JSON and files in the same run, as the floor.

    python bench/request_cpu.py [--seconds 8] [--connections 20] [--users 1000]
                                [--mix-seconds 30] [--postgres] [--busy] [--profile FILE] [--mix-only]
                                [--baseline REV [--rounds 2]]

Each route alone first (wrk at full speed on `--connections`), then the listeners' mix of
bench/load/locustfile.py as 1000 users meet it: `--users` connections, each asking its next
request 0.5-1.5 s after its answer (wrk's `delay`), list 3 : read 4 : Range seek 9 (64 KiB-1 MiB
of any variant) : events 1 : health 1. The mix is the figure issue 45 names (1.2 ms per request
before it); the routes alone show where it goes.

`--baseline REV`: then the mix again, in turns with an HTTP process of that revision (a git
worktree) on the same data, `--rounds` turns each: one step's effect in the same run.

`--profile FILE`: py-spy samples the HTTP process through the mix (collapsed stacks to FILE) and
the summary prints the share of samples by package of the leaf frame, and the functions with the
most samples beneath them.

`--busy`: the engine processes one short upload a second throughout (the stream scenario of
bench/load/run.py). Prints a table: requests, CPU ms per request for audiodas and nginx, and
the mix's p50/p95/p99 (wrk's, the load generator on its own core).
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
    http_processes,
    machine,
    make_clips,
    mirror_for_nginx,
    pin,
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


MIX_LUA = """
local requests = {requests}
local bag = {{}}
for _, r in ipairs(requests) do for _ = 1, r.weight do bag[#bag + 1] = r end end
function init(args) math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16)) end
function delay() return math.random(500, 1500) end
function request()
  local r = bag[math.random(#bag)]
  if r.size then
    local length = math.min(r.size, math.random(65536, 1048576))
    local start = math.random(0, r.size - length)
    return wrk.format("GET", r.path, {{ ["Range"] = "bytes=" .. start .. "-" .. (start + length - 1) }})
  end
  return wrk.format("GET", r.path)
end
function done(summary, latency, requests)
  io.write(string.format("mix: %d requests, %d errors, p50 %.1f p95 %.1f p99 %.1f ms\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def mix_script(fixtures: dict, folder: Path) -> Path:
    """The listeners' mix (bench/load/locustfile.py's weights) as a wrk script."""
    entries = [f'{{path="{API}?limit={LIST_PAGE}", weight=3}}', '{path="/healthz", weight=1}']
    for rid, sizes in fixtures["recordings"].items():
        entries.append(f'{{path="{API}/{rid}", weight=4}}')
        entries.append(f'{{path="{API}/{rid}/events", weight=1}}')
        for variant, size in sizes.items():
            path = f"{API}/{rid}/stream?variant={variant}"
            entries.append(f'{{path="{path}", size={size}, weight={max(1, 9 // len(sizes))}}}')
    script = folder / "mix.lua"
    script.write_text(MIX_LUA.format(requests="{" + ", ".join(entries) + "}"))
    return script


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime
    return total


def drive(url: str, path: str, headers: list[str], seconds: int, connections: int) -> int:
    """wrk on core 1; the number of requests it completed."""
    output = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *headers,
         url + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(re.search(r"(\d+) requests in", output).group(1))


def measure_mix(pids: list[int], url: str, script: Path, args) -> tuple[int, float, str]:  # type: ignore[no-untyped-def]
    """The mix on `--users` connections: requests, CPU ms per request, wrk's latency line."""
    before = cpu_seconds(pids)
    output = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.users}", f"-d{args.mix_seconds}s",
         "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(text for text in output.splitlines() if text.startswith("mix:"))
    requests = int(re.search(r"mix: (\d+) requests", line).group(1))
    return requests, (cpu_seconds(pids) - before) * 1000 / max(requests, 1), line


def profiled(pid: int, seconds: int, out: Path) -> subprocess.Popen:
    """py-spy on the HTTP process for the mix (non-blocking: it does not pause the process)."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking", "--format",
         "raw", "-r", "250", "-d", str(seconds), "-p", str(pid), "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def profile_summary(collapsed: Path, top: int = 25) -> str:
    """Self samples by package of the leaf frame, and inclusive samples by function."""
    by_package: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        leaf = frames[-1]
        package = re.search(r"\((?:.*site-packages/|.*/src/|.*lib/python3\.\d+/)?([^/.]+)", leaf)
        name = package.group(1) if package else "other"
        by_package[name] = by_package.get(name, 0) + n
        for frame in set(frames):
            function = frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1]
            inclusive[function] = inclusive.get(function, 0) + n
    lines = [f"profile: {total} samples; self by package:"]
    for name, n in sorted(by_package.items(), key=lambda item: -item[1])[:12]:
        lines.append(f"  {name:24} {100 * n / total:5.1f} %")
    lines.append("inclusive by function:")
    for name, n in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * n / total:5.1f} %  {name}")
    return "\n".join(lines)


def measure(pids: list[int], url: str, path: str, headers: list[str], args) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    before = cpu_seconds(pids)
    requests = drive(url, path, headers, args.seconds, args.connections)
    return requests, (cpu_seconds(pids) - before) * 1000 / max(requests, 1)


def compare(args, server: Server, env: dict, work: Path, script: Path) -> None:  # type: ignore[no-untyped-def]
    """The mix on this tree's HTTP process and on the baseline's, in turns, on the same data
    (the baseline's server is API-only: this tree's engine serves both)."""
    tree = work / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree),
                    args.baseline], check=True)  # fmt: skip
    base_env = {**env, "AUDIODAS_EMBEDDED_WORKER": "false", "PYTHONPATH": str(tree / "src")}
    baseline = Server(server.data_dir, env=base_env).start(timeout=120)
    try:
        theirs = http_processes(baseline)
        pin(theirs, 0)
        best: dict[str, tuple[float, str]] = {}
        for _ in range(args.rounds):
            for label, url, pids in (("baseline", baseline.url, theirs),
                                     ("this tree", server.url, http_processes(server))):  # fmt: skip
                _, cpu, latency = measure_mix(pids, url, script, args)
                if label not in best or cpu < best[label][0]:
                    best[label] = (cpu, latency)
        print(f"same run, best of {args.rounds} turns each: baseline {args.baseline} "
              f"{best['baseline'][0]:.3f} ms/req, this tree {best['this tree'][0]:.3f} ms/req "
              f"({best['this tree'][0] / best['baseline'][0]:.2f}x)")  # fmt: skip
        print(f"  baseline  {best['baseline'][1]}\n  this tree {best['this tree'][1]}")
    finally:
        baseline.stop()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--mix-seconds", type=int, default=30)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--mix-only", action="store_true", help="skip the routes alone")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--busy", action="store_true")
    parser.add_argument(
        "--baseline",
        help="a git revision whose HTTP process takes turns with this tree's in the mix",
    )
    parser.add_argument("--rounds", type=int, default=2, help="turns each, with --baseline")
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
        for name, (path, headers) in routes(fixtures).items() if not args.mix_only else ():
            n_ours, cpu_ours = measure(ours, server.url, path, headers, args)
            n_theirs, cpu_theirs = measure(theirs, nginx.url, path, headers, args)
            total_ours += cpu_ours * n_ours
            total_requests += n_ours
            print(f"{name:16} {n_ours:12d} {cpu_ours:10.3f} {n_theirs:10d} {cpu_theirs:10.3f} "
                  f"{cpu_ours / max(cpu_theirs, 1e-6):5.1f}x")  # fmt: skip
        if total_requests:
            print(
                f"{'all routes':16} {int(total_requests):12d} {total_ours / total_requests:10.3f}"
            )
        script = mix_script(fixtures, work)
        spy = profiled(ours[0], args.mix_seconds - 2, args.profile) if args.profile else None
        n_ours, cpu_ours, latency_ours = measure_mix(ours, server.url, script, args)
        if spy:
            spy.wait()
        n_theirs, cpu_theirs, latency_theirs = measure_mix(theirs, nginx.url, script, args)
        print(f"{'mix, ' + str(args.users) + ' users':16} {n_ours:12d} {cpu_ours:10.3f} "
              f"{n_theirs:10d} {cpu_theirs:10.3f} {cpu_ours / max(cpu_theirs, 1e-6):5.1f}x")  # fmt: skip
        print(f"  audiodas {latency_ours}\n  nginx    {latency_theirs}")
        if args.profile:
            print(profile_summary(args.profile))
        nginx.stop()
        if args.baseline:
            compare(args, server, env, work, script)
    finally:
        stop.set()
        server.stop()
        if cluster:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
