"""The folder store and S3-compatible object storage (a real SeaweedFS on loopback) side by
side, in the same run: two API-only servers on one machine, one per store.

- upload: seconds per POST /api/v1/recordings of a WAV (receive, hash, probe, store), p50;
- first Range GET of a stored file (with object storage the API node fetches it into its
  scratch cache), p50;
- Range GETs of 64 KiB at random offsets once read (a player seeking), p50 / p95.

    python bench/object_storage.py [--size-mb 50] [--files 8] [--requests 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import SeaweedFS, Server, silent_wav  # noqa: E402

API = "/api/v1/recordings"


def ms(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100)[int(q) - 1] * 1000
        if len(samples) > 1
        else samples[0] * 1000
    )


def measure(server: Server, source: Path, files: int, requests: int) -> dict[str, float]:
    uploads, firsts, seeks = [], [], []
    ids = []
    for _ in range(files):
        began = time.perf_counter()
        with source.open("rb") as f:
            answer = httpx.post(f"{server.url}{API}", files={"file": f}, timeout=300)
        uploads.append(time.perf_counter() - began)
        ids.append(answer.json()["id"])
    size = source.stat().st_size
    with httpx.Client() as client:
        for rid in ids:
            began = time.perf_counter()
            client.get(f"{server.url}{API}/{rid}/stream", headers={"Range": "bytes=0-65535"})
            firsts.append(time.perf_counter() - began)
        for _ in range(requests):
            at = random.randrange(0, size - 65536)
            began = time.perf_counter()
            answer = client.get(
                f"{server.url}{API}/{random.choice(ids)}/stream",
                headers={"Range": f"bytes={at}-{at + 65535}"},
            )
            seeks.append(time.perf_counter() - began)
            assert answer.status_code == 206
    return {
        "upload p50 s": statistics.median(uploads),
        "first range p50 ms": statistics.median(firsts) * 1000,
        "seek p50 ms": ms(seeks, 50),
        "seek p95 ms": ms(seeks, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    store = SeaweedFS().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "talk.wav"
            silent_wav(source, args.size_mb << 20, noise=True)
            servers = {
                "folder": Server(Path(folder) / "folder", env={}).start(),
                "s3": Server(Path(folder) / "s3", env=store.env(uuid.uuid4().hex[:8])).start(),
            }
            try:
                results = {
                    n: measure(s, source, args.files, args.requests) for n, s in servers.items()
                }
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        store.stop()
    print(f"{args.files} uploads of {args.size_mb} MB, {args.requests} seeks of 64 KiB")
    print("| store | " + " | ".join(results["folder"]) + " |")
    print("|---|" + "---|" * len(results["folder"]))
    for name, figures in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in figures.values()) + " |")


if __name__ == "__main__":
    main()
