"""The load suite: 1000 users on `audiodas serve`, next to nginx serving the same files and JSON
in the same run, on this machine (load generator included).

    python bench/load/run.py [--users 1000] [--duration 60] [--postgres] [--busy-only] [--pin]
                             [--out artifacts/load]

1. Starts `audiodas serve` (engine included, one HTTP process per core) on the embedded default,
   or on a PostgreSQL it starts itself (--postgres), and preloads processed recordings.
   Then the listeners alone (idle), the stream scenario: one short speech clip (4-20 s) a
   second, processed as it arrives, first alone (the engine's throughput), then under the
   listeners; then the listeners alone again. Each request type's busy p95 is compared with
   the mean of its two idle p95s (--busy-only stops there).
2. Range GETs, 64 KiB at random offsets, 100 connections (wrk): audiodas against nginx.
3. A step test with the engine idle: p95 per user count (Locust).
4. The full mix (bench/load/locustfile.py) against nginx, then the engine alone (uploads
   only), then the full mix against audiodas with the engine busy. Reports p50/p95/p99 per
   request type, req/s, failures, and audio seconds processed per second.
5. The step test again with the engine busy: p95 must stay within 2x of idle.

`--pin`: Locust on core 1 alone and the HTTP processes on core 0 (taskset), so that the load
generator's share of the machine cannot be mistaken for the product's (issue 45); the engine's
processes run where the scheduler puts them.

Prints the figures, writes Locust's CSVs and a summary.json to --out, and exits 1 when a
target of issue 8 is missed. nginx and wrk come from Debian's packages (installed when missing).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support import PostgresCluster, Server, ffmpeg, free_port, speech_assets  # noqa: E402

HERE = Path(__file__).resolve().parent
API = "/api/v1/recordings"
LIST_PAGE = 50  # items per list request of the listeners (locustfile.py)
TARGETS = {"p95_ms": 100, "p99_ms": 250, "rps": 900, "engine_ratio": 0.5, "range_ratio": 0.5}
STEPS = (10, 30, 100, 300, 1000)
PINNED: list[str] = []  # with --pin: the core Locust runs on


def main() -> int:
    args = parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="audiodas-load-"))
    postgres = PostgresCluster().start() if args.postgres else None
    # The product's default: one HTTP process per core (test servers run one).
    env = {"AUDIODAS_EMBEDDED_WORKER": "true", "AUDIODAS_API_WORKERS": str(os.cpu_count() or 1)}
    if postgres:
        env["AUDIODAS_DATABASE_URL"] = postgres.create_database("load")
    (work / "data").mkdir()
    server = Server(work / "data", env=env).start(timeout=60)
    if args.pin:
        pin(http_processes(server), 0)
        PINNED.append("1")
    nginx = None
    summary: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "database": "postgresql" if postgres else "sqlite",
    }
    try:
        clips = make_clips(work)
        fixtures = preload(server, clips, args.recordings)
        fill_first_page(server, clips, args.recordings)
        fixtures["upload"] = str(clips["upload"])
        fixtures["short"] = [str(path) for path in clips["short"]]
        site = mirror_for_nginx(server, fixtures, work / "site")
        nginx = Nginx(site, work / "nginx")
        (work / "fixtures.json").write_text(json.dumps(fixtures))

        summary["idle"] = locust(
            server.url, fixtures, out, "idle", args.users, args.duration, classes=("Listener",)
        )
        summary["stream"] = stream_scenario(server, fixtures, out, args.users, args.duration)
        # Idle again: one noisy minute of this host (idle p95 6 to 58 ms between runs) would
        # otherwise decide every ratio of the run, either way.
        summary["idle_after"] = locust(
            server.url, fixtures, out, "idle-after", args.users, args.duration,
            classes=("Listener",),
        )  # fmt: skip
        if not args.busy_only:
            everything_else(server, nginx, clips, fixtures, out, args, summary)
    finally:
        if nginx:
            nginx.stop()
        server.stop()
        if postgres:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    missed = [] if args.busy_only else report(summary)
    return 1 if report_busy(summary) or missed else 0


def everything_else(server, nginx, clips, fixtures, out, args, summary) -> None:  # type: ignore[no-untyped-def]
    """Range against nginx, the step tests, nginx's full mix, and the backlog scenario."""
    summary["range"] = range_test(server, nginx, fixtures)
    summary["steps_idle"] = steps(server, fixtures, out, "idle", args.step_duration)
    summary["nginx"] = locust(nginx.url, fixtures, out, "nginx", args.users, args.duration)
    # The engine saturated by a backlog, plus the trickle: alone, then under the full mix.
    backlog(server, clips["upload"], args.duration * 60)
    summary["engine_alone_audio_s_per_s"] = engine_throughput(server, fixtures, out, args.duration)
    backlog(server, clips["upload"], args.duration * 60)
    started = time.time()
    summary["audiodas"] = locust(server.url, fixtures, out, "audiodas", args.users, args.duration)
    busy = processed_audio_seconds(server, started, time.time()) / (time.time() - started)
    summary["engine_busy_audio_s_per_s"] = busy
    backlog(server, clips["upload"], len(STEPS) * (args.step_duration + 10) * 60)
    summary["steps_busy"] = steps(server, fixtures, out, "busy", args.step_duration)
    summary["queued_after_busy_steps"] = queued_audio_seconds(server)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=60, help="seconds per full-mix run")
    parser.add_argument("--step-duration", type=int, default=15, help="seconds per step")
    parser.add_argument(
        "--recordings", type=int, default=12, help="processed recordings to preload"
    )
    parser.add_argument("--postgres", action="store_true", help="on a PostgreSQL started here")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="Locust on core 1, the HTTP processes on core 0",
    )
    parser.add_argument(
        "--busy-only",
        action="store_true",
        help="only idle and the stream scenario (no nginx, Range or step tests, no backlog)",
    )
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "load"))
    return parser.parse_args()


def ensure_tools() -> None:
    missing = [package for package, found in (
        ("nginx", shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
        ("wrk", shutil.which("wrk")),
    ) if not found]  # fmt: skip
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"install {' '.join(missing)} (Debian packages) and run again")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // (1 << 20)
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}"


def pin(pids: list[int], core: int) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True,
                       capture_output=True)  # fmt: skip


def http_processes(server: Server) -> list[int]:
    """The uvicorn processes `audiodas serve` runs (its `http-worker` children)."""
    return [p.pid for p in server.processes() if "http-worker" in " ".join(p.cmdline())]


def make_clips(work: Path) -> dict[str, Path]:
    assets = speech_assets()
    clips = {"upload": work / "two_cities.mp3"}  # 44 s of speech, ~0.4 MB: the trickle
    ffmpeg(
        "-i",
        str(assets / "two_cities.wav"),
        "-c:a",
        "libmp3lame",
        "-b:a",
        "64k",
        str(clips["upload"]),
    )
    # The stream scenario's uploads: short speech clips, 4 to 20 s.
    clips["short"] = [assets / "clone-test.wav", assets / "beckett.wav"]
    for seconds in (12, 20):
        cut = work / f"two_cities_{seconds}.wav"
        ffmpeg("-i", str(assets / "two_cities.wav"), "-t", str(seconds), str(cut))
        clips["short"].append(cut)
    clips["long"] = work / "three_minutes.wav"
    ffmpeg(
        "-stream_loop", "3", "-i", str(assets / "two_cities.wav"), "-c", "copy", str(clips["long"])
    )
    return clips


def preload(server: Server, clips: dict[str, Path], count: int) -> dict:
    """Processed recordings to read and stream; returns {"recordings": {id: {variant: size}}}."""
    ids = []
    for i in range(count):
        ids.append(upload(server, clips["long"] if i % 3 == 0 else clips["upload"]))
    recordings = {}
    deadline = time.monotonic() + 900
    for rid in ids:
        while (rec := httpx.get(f"{server.url}{API}/{rid}").json())["status"] != "done":
            if time.monotonic() > deadline or rec["status"] in ("failed", "rejected"):
                raise RuntimeError(f"preload did not finish: {rec}")
            time.sleep(0.5)
        recordings[rid] = {name: v["size_bytes"] for name, v in rec["variants"].items()}
    return {"recordings": recordings}


def fill_first_page(server: Server, clips: dict[str, Path], stored: int) -> None:
    """Short recordings, processed, until the listeners' page (`?limit=50`) is full. The busy
    phases' uploads fill it anyway: with only the preloaded recordings, an idle list rendered
    12 items and a busy one 50, and the list's busy/idle ratio measured the page, not the
    engine (py-spy: of an HTTP process's samples, the list's grew most in a busy phase)."""
    for i in range(LIST_PAGE - stored):
        upload(server, clips["short"][i % len(clips["short"])])
    drained(server)


def upload(server: Server, clip: Path) -> str:
    """The new recording's id."""
    with clip.open("rb") as f:
        answer = httpx.post(f"{server.url}{API}", files={"file": f}, timeout=60)
    answer.raise_for_status()
    return answer.json()["id"]


def mirror_for_nginx(server: Server, fixtures: dict, site: Path) -> Path:
    """The same bodies and files, laid out for nginx."""
    for folder in ("rec", "events", "files"):
        (site / folder).mkdir(parents=True)
    (site / "list.json").write_bytes(httpx.get(f"{server.url}{API}?limit={LIST_PAGE}").content)
    (site / "healthz.json").write_bytes(httpx.get(f"{server.url}/healthz").content)
    (site / "upload.json").write_bytes(b'{"status":"queued"}')
    for rid in fixtures["recordings"]:
        (site / "rec" / f"{rid}.json").write_bytes(httpx.get(f"{server.url}{API}/{rid}").content)
        (site / "events" / rid).write_bytes(
            httpx.get(f"{server.url}{API}/{rid}/events", timeout=30).content
        )
        (site / "files" / rid).mkdir()
        for variant in fixtures["recordings"][rid]:
            stored = next((server.data_dir / "recordings" / rid).glob(f"{variant}.*"))
            os.symlink(stored, site / "files" / rid / variant)
    return site


class Nginx:
    def __init__(self, site: Path, prefix: Path) -> None:
        prefix.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(port=self.port, site=site, prefix=prefix))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
        )
        for _ in range(50):
            try:
                httpx.get(f"{self.url}/healthz").raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


NGINX_CONF = """
user root;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 20m;
    root {site};
    server {{
        listen 127.0.0.1:{port} reuseport;
        location = /healthz {{ default_type application/json; try_files /healthz.json =404; }}
        location = /api/v1/recordings {{
            default_type application/json;
            if ($request_method = POST) {{ return 202 '{{"status":"queued"}}'; }}
            try_files /list.json =404;
        }}
        location ~ ^/api/v1/recordings/(\\w+)$ {{ default_type application/json; try_files /rec/$1.json =404; }}
        location ~ ^/api/v1/recordings/(\\w+)/events$ {{ default_type text/event-stream; try_files /events/$1 =404; }}
        location ~ ^/api/v1/recordings/(\\w+)/stream$ {{ default_type audio/mpeg; try_files /files/$1/$arg_variant =404; }}
    }}
}}
"""


def range_test(server: Server, nginx: Nginx, fixtures: dict) -> dict:
    """wrk, 100 connections, 64 KiB at random offsets of the largest original."""
    rid, sizes = max(fixtures["recordings"].items(), key=lambda item: item[1]["original"])
    path = f"{API}/{rid}/stream?variant=original"
    result = {}
    for name, url in (("nginx", nginx.url), ("audiodas", server.url)):
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c100",
                "-d15s",
                "--latency",
                "-s",
                str(HERE / "range.lua"),
                url,
                "--",
                path,
                str(sizes["original"]),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        result[name] = {
            "rps": rps,
            "p99_ms": _ms(float(p99.group(1)), p99.group(2)),
            "errors": int(non_2xx.group(1)) if non_2xx else 0,
        }
    result["ratio"] = result["audiodas"]["rps"] / result["nginx"]["rps"]
    return result


def _ms(value: float, unit: str) -> float:
    return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def locust(
    url: str,
    fixtures: dict,
    out: Path,
    name: str,
    users: int,
    seconds: int,
    classes: tuple[str, ...] = ("Listener", "Uploader"),
) -> dict:
    """One headless Locust run of `users` listeners plus the uploader among `classes`; returns
    per-type figures from its CSV (steady state: the statistics restart once every user is
    spawned)."""
    prefix = out / name
    users += sum(1 for c in classes if c.endswith("Uploader"))
    spawn_rate = max(users // 5, 1)
    command = [
        *(["taskset", "-c", PINNED[0]] if PINNED else []),
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds + users // spawn_rate}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--reset-stats",
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    env = {**os.environ, "LOAD_FIXTURES": json.dumps(fixtures)}
    subprocess.run(
        command, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))
    types = {}
    for row in rows:
        if row["Request Count"] == "0":
            continue
        figures = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]),
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]),
        }
        types[row["Name"]] = figures
    return types


def engine_throughput(server: Server, fixtures: dict, out: Path, seconds: int) -> float:
    """Audio seconds processed per second with only the upload trickle (no listeners)."""
    started = time.time()
    locust(server.url, fixtures, out, "engine-alone", 0, seconds, classes=("Uploader",))
    return processed_audio_seconds(server, started, time.time()) / (time.time() - started)


def processed_audio_seconds(server: Server, since: float, until: float) -> float:
    """Audio seconds of the recordings that finished processing between the two times."""
    total, cursor = 0.0, None
    while True:
        params = {"status": "done", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.url}{API}", params=params, timeout=30).json()
        for rec in page["items"]:
            finished = max(
                datetime.fromisoformat(s["finished_at"]).timestamp() for s in rec["stages"]
            )
            if since <= finished <= until:
                total += rec["duration_s"]
        cursor = page["next_cursor"]
        if not cursor:
            return total


def stream_scenario(server: Server, fixtures: dict, out: Path, users: int, seconds: int) -> dict:
    """One short clip a second, processed as it arrives: the engine alone, then under the
    listeners. Returns the listeners' and uploads' figures and the engine's throughput in both."""
    started = time.time()
    locust(server.url, fixtures, out, "stream-alone", 0, seconds, classes=("ShortUploader",))
    drained(server)
    alone = processed_audio_seconds(server, started, time.time()) / (time.time() - started)
    started = time.time()
    types = locust(
        server.url, fixtures, out, "stream-busy", users, seconds,
        classes=("Listener", "ShortUploader"),
    )  # fmt: skip
    during = processed_audio_seconds(server, started, time.time()) / (time.time() - started)
    drained(server)
    return {
        "types": types,
        "engine_alone_audio_s_per_s": alone,
        "engine_busy_audio_s_per_s": during,
    }


def drained(server: Server, timeout: float = 300) -> None:
    """Until nothing is queued or processing (the next phase starts from an idle engine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [
            httpx.get(f"{server.url}{API}", params={"status": s, "limit": 1}).json()["items"]
            for s in ("queued", "processing")
        ]
        if not any(waiting):
            return
        time.sleep(1)


def report_busy(summary: dict) -> int:
    """Each request type busy against idle, in the same run, in each busy scenario run: the
    targets of issue 26."""
    missed = []
    print(f"\n{summary['date']} · {summary['machine']} · {summary['database']}")
    scenarios = {"stream": summary["stream"]["types"]}
    if "audiodas" in summary:
        scenarios["backlog"] = summary["audiodas"]
    idle = idle_reference(summary["idle"], summary["idle_after"])
    for scenario, busy in scenarios.items():
        missed += _busy_table(scenario, idle, busy)
    s = summary["stream"]
    print(f"engine (stream): {s['engine_busy_audio_s_per_s']:.2f} audio-s/s under the listeners, "
          f"{s['engine_alone_audio_s_per_s']:.2f} alone")  # fmt: skip
    print("\n" + ("busy targets met" if not missed else "MISSED:\n  " + "\n  ".join(missed)))
    return 1 if missed else 0


def idle_reference(before: dict, after: dict) -> dict[str, tuple[float, float, float]]:
    """Per request type: idle p95 before and after the stream scenario, and their mean (the
    reference both scenarios' busy p95 is held against)."""
    return {
        kind: (f["p95_ms"], after[kind]["p95_ms"], (f["p95_ms"] + after[kind]["p95_ms"]) / 2)
        for kind, f in before.items()
        if kind in after
    }


def _busy_table(scenario: str, idle: dict, busy: dict) -> list[str]:
    missed = []
    print(f"{'request type':<16}{'idle p95':>13}{'busy p50':>9}{'busy p95':>9}{'busy p99':>9}"
          f"{'ratio':>7}{'fail':>6}  (ms; idle before/after = mean; {scenario} scenario)")  # fmt: skip
    for kind, f in busy.items():
        first, second, mean = idle.get(kind, (0, 0, 0))
        ratio = f["p95_ms"] / max(mean, 1) if kind in idle else None
        label = f"{first:.0f}/{second:.0f} = {mean:.1f}" if kind in idle else "-"
        print(f"{kind:<16}{label:>13}{f['p50_ms']:>9.0f}"
              f"{f['p95_ms']:>9.0f}{f['p99_ms']:>9.0f}{ratio or float('nan'):>7.2f}{f['failures']:>6}")  # fmt: skip
        if f["failures"]:
            missed.append(f"{scenario}, {kind}: {f['failures']} failures")
        if kind == "upload":
            if f["p95_ms"] > 100 or f["p99_ms"] > 250:
                missed.append(
                    f"{scenario}, upload p95 {f['p95_ms']:.0f} / p99 {f['p99_ms']:.0f} ms"
                )
        elif kind != "Aggregated" and (f["p95_ms"] > 50 or (ratio and ratio > 2)):
            missed.append(f"{scenario}, {kind}: busy p95 {f['p95_ms']:.0f} ms ({ratio:.1f}x idle)")
    return missed


def steps(server: Server, fixtures: dict, out: Path, label: str, seconds: int) -> dict:
    """p95 over the listeners' requests (no uploads: the same mix idle and busy) per user count."""
    result = {}
    for users in STEPS:
        types = locust(
            server.url,
            fixtures,
            out,
            f"steps-{label}-{users}",
            users,
            seconds,
            classes=("Listener",),
        )
        result[users] = types["Aggregated"]["p95_ms"]
    return result


def backlog(server: Server, clip: Path, audio_seconds: float) -> None:
    """Queue uploads until at least this much audio waits: the engine stays busy throughout."""
    while queued_audio_seconds(server) < audio_seconds:
        for _ in range(10):
            upload(server, clip)


def queued_audio_seconds(server: Server) -> float:
    total, cursor = 0.0, None
    while True:
        params = {"status": "queued", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.url}{API}", params=params, timeout=30).json()
        total += sum(r["duration_s"] for r in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


def report(summary: dict) -> list[str]:
    missed = []
    print(
        f"\n{summary['date']} · {summary['machine']} · {summary['database']}\n$ {summary['command']}\n"
    )
    print(
        f"{'request type':<18}{'server':<10}{'requests':>9}{'fail':>6}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}  (ms)"
    )
    for server in ("nginx", "audiodas"):
        for kind, f in summary[server].items():
            print(
                f"{kind:<18}{server:<10}{f['requests']:>9}{f['failures']:>6}{f['rps']:>8.0f}{f['p50_ms']:>7.0f}{f['p95_ms']:>7.0f}{f['p99_ms']:>7.0f}"
            )
    ours = summary["audiodas"]
    for kind, f in ours.items():
        if f["failures"]:
            missed.append(f"{kind}: {f['failures']} failures")
        if f["p95_ms"] > TARGETS["p95_ms"]:
            missed.append(f"{kind}: p95 {f['p95_ms']:.0f} ms > {TARGETS['p95_ms']} ms")
        if f["p99_ms"] > TARGETS["p99_ms"]:
            missed.append(f"{kind}: p99 {f['p99_ms']:.0f} ms > {TARGETS['p99_ms']} ms")
    if ours["Aggregated"]["rps"] < TARGETS["rps"]:
        missed.append(f"{ours['Aggregated']['rps']:.0f} req/s < {TARGETS['rps']}")
    ratio = summary["engine_busy_audio_s_per_s"] / max(summary["engine_alone_audio_s_per_s"], 1e-9)
    print(
        f"\nengine: {summary['engine_busy_audio_s_per_s']:.1f} audio-s/s under load, {summary['engine_alone_audio_s_per_s']:.1f} alone ({ratio:.2f}x)"
    )
    if ratio < TARGETS["engine_ratio"]:
        missed.append(f"engine under load {ratio:.2f}x of alone < {TARGETS['engine_ratio']}")
    r = summary["range"]
    print(
        f"range 64 KiB, 100 connections: audiodas {r['audiodas']['rps']:.0f} req/s (p99 {r['audiodas']['p99_ms']:.0f} ms), nginx {r['nginx']['rps']:.0f} req/s (p99 {r['nginx']['p99_ms']:.0f} ms): {r['ratio']:.2f}x"
    )
    if r["ratio"] < TARGETS["range_ratio"] or r["audiodas"]["errors"]:
        missed.append(f"range {r['ratio']:.2f}x of nginx (errors {r['audiodas']['errors']})")
    print(
        f"\nqueued audio left after the busy steps: {summary['queued_after_busy_steps']:.0f} s (engine busy throughout: {summary['queued_after_busy_steps'] > 0})"
    )
    print("users  p95 engine idle  p95 engine busy  (ms, listener requests)")
    for users in STEPS:
        idle, busy = summary["steps_idle"][users], summary["steps_busy"][users]
        print(f"{users:>5}  {idle:>15.0f}  {busy:>15.0f}")
        if busy > 2 * max(idle, 1):
            missed.append(f"{users} users: busy p95 {busy:.0f} ms > 2 x idle {idle:.0f} ms")
    print("\n" + ("all targets met" if not missed else "MISSED:\n  " + "\n  ".join(missed)))
    return missed


if __name__ == "__main__":
    sys.exit(main())
