"""What search and the list's other orders cost at 10,000 recordings, on SQLite and on
PostgreSQL: p50/p95 of search requests and of lists by title and by length against an API-only
`audiodas serve`, beside the plain list request (a page of 50 newest, on its index) in the same
run, interleaved, so the machine's noise falls on all alike.

The library is made by this script (nothing committed): each recording a five-minute talk of
50 transcript segments of about 15 words, drawn from a vocabulary of some 500 English words
with a Zipf-like spread; the middle recording alone says "zeppelin", at 250 s.

    python bench/search.py [--recordings 10000] [--requests 300] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.test_search import store  # noqa: E402
from tests.support import PostgresCluster, Server  # noqa: E402

from audiodas.adapters.database import SqlRecordingRepository, create_engine_for  # noqa: E402
from audiodas.config import Settings  # noqa: E402

REQUESTS = {
    "list, page of 50": {"limit": 50},
    "list by title, page of 50": {"limit": 50, "sort": "title"},
    "list longest first, page of 50": {"limit": 50, "sort": "longest"},
    "search, 1 hit": {"limit": 50, "q": "zeppelin"},
    "search, common word": {"limit": 50, "q": "market"},
    "search, two words": {"limit": 50, "q": "prices inflation"},
    "search, phrase": {"limit": 50, "q": '"interest rates"'},
}


def vocabulary() -> list[str]:
    texts = [ROOT / "src/audiodas/data/topics.json", ROOT / "tests/data/topics/corpus.json"]
    found = re.findall(r"[a-z]{3,}", " ".join(p.read_text().lower() for p in texts))
    return sorted(set(found) - {"zeppelin"})


def talk(rng: random.Random, words: list[str], weights: list[float], rare: bool) -> list[str]:
    lines = [
        " ".join(rng.choices(words, weights, k=rng.randint(10, 20))).capitalize() + "."
        for _ in range(50)
    ]
    if rare:
        lines[25] = "Nobody expected the zeppelin to land on the roof of the bank."
    return lines


def fill(database_url: str, recordings: int) -> None:
    rng = random.Random(1)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]
    rng.shuffle(words)
    engine = create_engine_for(Settings(database_url=database_url).sqlalchemy_url)
    repository = SqlRecordingRepository(engine)
    with Progress() as progress:
        task = progress.add_task("storing transcripts", total=recordings)
        for n in range(recordings):
            store(repository, n, talk(rng, words, weights, n == recordings // 2))
            progress.advance(task)
    engine.dispose()


def measure(url: str, requests: int, rare: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in REQUESTS}
    with httpx.Client(base_url=url, timeout=30) as client:
        found = client.get("/api/v1/recordings", params=REQUESTS["search, 1 hit"]).json()
        assert [item["id"] for item in found["items"]] == [f"{rare:032x}"], found
        assert found["items"][0]["match"]["start_s"] == 250.0
        for params in REQUESTS.values():  # warm: each rendering cached once
            client.get("/api/v1/recordings", params=params).raise_for_status()
        for _ in range(requests):
            for name, params in REQUESTS.items():
                started = time.perf_counter()
                client.get("/api/v1/recordings", params=params).raise_for_status()
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()

    report = {}
    for database in args.databases.split(","):
        work = Path(tempfile.mkdtemp(prefix="audiodas-search-"))
        cluster = PostgresCluster().start() if database == "postgresql" else None
        url = cluster.create_database("bench") if cluster else f"sqlite:///{work}/data/audiodas.db"
        server = Server(work / "data", env={"AUDIODAS_DATABASE_URL": url}).start()
        try:
            fill(server.node_env["AUDIODAS_DATABASE_URL"], args.recordings)
            timings = measure(server.url, args.requests, args.recordings // 2)
        finally:
            server.stop()
            if cluster:
                cluster.stop()
            shutil.rmtree(work, ignore_errors=True)
        base = statistics.median(timings["list, page of 50"])
        print(f"\n{database}: {args.recordings} recordings x 50 segments, {args.requests} each")
        for name, ms in timings.items():
            p50, p95 = statistics.median(ms), statistics.quantiles(ms, n=20)[-1]
            print(f"  {name:<22} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {p50 / base:5.2f}x the list")
            report[f"{database}/{name}"] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
