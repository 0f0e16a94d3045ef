"""Many workers on one PostgreSQL (procrastinate): throughput, and what it costs the database.

For each worker count N (default 1 and 2), on a fresh database: one API node
(`audiodas serve --no-worker`) and N `audiodas worker` processes on this machine.
- idle: statements PostgreSQL runs per idle worker per minute (polling, heartbeats, sweeps);
- load: R recordings uploaded at once, timed until all are done -> recordings per minute, and
  the statements run per recording, split by who ran them (API, workers; PGAPPNAME names each
  process, `log_statement=all` logs every statement). Workers' idle statements over the same
  time are subtracted, so "per recording" is the work the recording itself caused.
- unit of work: one recording alone on an idle worker, its three branches' durations: how much
  one-job-per-branch could shorten a recording, against the jobs it would add.

Usage: python bench/workers.py [--recordings 16] [--workers 1 2] [--idle-s 20]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import PostgresCluster, Server, speech_assets  # noqa: E402

API = "/api/v1/recordings"
CLIP = speech_assets() / "two_cities.wav"  # 44 s of speech
# One logged statement: "app|… LOG:  statement: SQL" (or "execute <name>: SQL"); SQL that
# begins with a line break has its first words on the next line.
STATEMENT = re.compile(r"^([\w-]*)\|.*?LOG:  (?:statement|execute [^:]*):[ \t]*(.*)$", re.MULTILINE)


class Deployment:
    """One API node and N worker processes on a fresh database of `cluster`."""

    def __init__(self, cluster: PostgresCluster, workers: int, folder: Path) -> None:
        folder.mkdir(parents=True)
        url = self.database_url = cluster.create_database(f"bench_{workers}_{os.getpid()}")
        env = {"AUDIODAS_DATABASE_URL": url, "PGAPPNAME": "api"}
        self.api = Server(folder / "data", env=env).start()
        self.workers = [
            subprocess.Popen(
                [sys.executable, "-m", "audiodas", "worker"],
                env={
                    **os.environ,
                    "AUDIODAS_DATABASE_URL": url,
                    "AUDIODAS_DATA_DIR": str(self.api.data_dir),
                    "PGAPPNAME": f"worker-{i + 1}",
                },
                stdout=subprocess.DEVNULL,
                stderr=(folder / f"worker-{i + 1}.log").open("wb"),
            )
            for i in range(workers)
        ]
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while (
            httpx.get(f"{self.api.url}/healthz").json().get("engine", {}).get("engines", 0)
            < len(self.workers) + 1
        ):  # + the API node's inference-only engine
            if time.monotonic() > deadline:
                raise SystemExit("workers did not report within 120 s")
            time.sleep(0.5)

    def upload(self, n: int) -> list[str]:
        def one(_: int) -> str:
            with CLIP.open("rb") as f:
                answer = httpx.post(f"{self.api.url}{API}", files={"file": f}, timeout=120)
            assert answer.status_code == 202, answer.text
            return answer.json()["id"]

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))

    def wait_done(self, ids: list[str]) -> None:
        """Asks PostgreSQL directly (as "bench"), so the API's count is the uploads' alone."""
        with psycopg.connect(self.database_url, application_name="bench") as db:
            while db.execute(
                "SELECT count(*) FROM recordings WHERE id = ANY(%s) AND status IN ('queued',"
                " 'processing')",
                (ids,),
            ).fetchone()[0]:
                time.sleep(0.5)

    def get(self, ids: list[str]) -> list[dict]:
        return [httpx.get(f"{self.api.url}{API}/{i}").json() for i in ids]

    def stop(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.wait(timeout=60)
        self.api.stop()


class StatementLog:
    """The statements PostgreSQL logged since the last `take()`, as (process, statement)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def take(self) -> list[tuple[str, str]]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
            self.offset = f.tell()
        return [(m[1], m[2] or _next_line(text, m.end())) for m in STATEMENT.finditer(text)]


def _next_line(text: str, at: int) -> str:
    line = text[at:].lstrip("\n").split("\n", 1)[0]
    return "(empty)" if re.match(r"[\w-]*\|", line) else line.strip()


def by_process(statements: list[tuple[str, str]]) -> Counter:
    return Counter("worker" if app.startswith("worker") else app for app, _ in statements)


def kinds(statements: list[tuple[str, str]]) -> Counter:
    """Worker statements by what they are (the first words, literals dropped)."""
    return Counter(
        re.sub(r"\$\d+|'[^']*'|\d+", "?", text)[:70]
        for app, text in statements
        if app.startswith("worker")
    )


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def branches(rec: dict) -> dict[str, float]:
    stages = {s["name"]: s for s in rec["stages"]}
    return {
        "archive": seconds(stages["archive"]["started_at"], stages["archive"]["finished_at"]),
        "echo": seconds(stages["echo"]["started_at"], stages["echo"]["finished_at"]),
        "speech": seconds(stages["transcribe"]["started_at"], stages["summarize"]["finished_at"]),
    }


def measure(cluster: PostgresCluster, n: int, recordings: int, idle_s: float, tmp: Path) -> dict:
    deployment = Deployment(cluster, n, tmp / f"workers-{n}")
    log = StatementLog(cluster.log)
    try:
        time.sleep(idle_s)
        idle = log.take()
        idle_per_worker_min = by_process(idle)["worker"] / n * 60 / idle_s

        [alone] = deployment.upload(1)
        deployment.wait_done([alone])
        [alone] = deployment.get([alone])
        log.take()
        started = time.monotonic()
        ids = deployment.upload(recordings)
        deployment.wait_done(ids)
        elapsed = time.monotonic() - started
        statements = log.take()
        busy = by_process(statements)
        done = deployment.get(ids)
    finally:
        deployment.stop()
    assert all(r["status"] == "done" for r in done), [r["status"] for r in done]
    caused = busy["worker"] - idle_per_worker_min * n * elapsed / 60
    return {
        "n": n,
        "per_min": recordings / elapsed * 60,
        "elapsed": elapsed,
        "idle_per_worker_min": idle_per_worker_min,
        "idle_kinds": {k: v * 60 / idle_s / n for k, v in kinds(idle).most_common(6)},
        "busy_kinds": {k: v / recordings for k, v in kinds(statements).most_common(8)},
        "worker_per_rec": caused / recordings,
        "api_per_rec": busy["api"] / recordings,
        "alone": branches(alone),
        "alone_total": seconds(alone["created_at"], alone["updated_at"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--idle-s", type=float, default=20)
    args = parser.parse_args()

    cluster = PostgresCluster(log_statement="all", log_line_prefix="%a|").start()
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.workers:
                print(f"measuring {n} worker(s)…", flush=True)
                results.append(measure(cluster, n, args.recordings, args.idle_s, Path(tmp)))
    finally:
        cluster.stop()

    print(f"\n{args.recordings} recordings of {CLIP.name} (44 s of speech), {os.cpu_count()} cores")
    print("workers  recordings/min  ratio  statements/recording (workers + API)  idle/worker/min")
    base = results[0]["per_min"]
    for r in results:
        print(
            f"{r['n']:7d}  {r['per_min']:14.1f}  {r['per_min'] / base:5.2f}  "
            f"{r['worker_per_rec']:13.1f} + {r['api_per_rec']:.1f}"
            f"{'':19s}{r['idle_per_worker_min']:8.0f}"
        )
    print("\nan idle worker's statements per minute, by kind:")
    for kind, per_min in results[0]["idle_kinds"].items():
        print(f"  {per_min:6.1f}  {kind}")
    print("a recording's worker statements, by kind (idle ones included):")
    for kind, per_recording in results[0]["busy_kinds"].items():
        print(f"  {per_recording:6.1f}  {kind}")
    alone = results[0]["alone"]
    total = results[0]["alone_total"]
    print("\nunit of work: one recording alone on an idle worker")
    print("  branches (s): " + ", ".join(f"{k} {v:.1f}" for k, v in alone.items()))
    print(f"  recording, upload stored to done: {total:.1f} s")
    print(
        f"  one job per branch could save at most {total - max(alone.values()):.2f} s of it "
        f"({100 * (1 - max(alone.values()) / total):.0f} %): the branches already run at once"
    )
    speech_share = statistics.mean(
        [r["alone"]["speech"] / sum(r["alone"].values()) for r in results]
    )
    print(f"  the speech branch is {100 * speech_share:.0f} % of a recording's branch time")


if __name__ == "__main__":
    main()
