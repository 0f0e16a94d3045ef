"""The folder store and S3-compatible object storage (a real SeaweedFS on loopback) side by
side, in the same run: three API-only servers on one machine, the folder store, object storage
proxied through the API (its scratch cache: the default) and object storage redirecting players
to presigned URLs (AUDIODAS_S3_STREAM=redirect).

- upload: seconds per POST /api/v1/recordings of a WAV (receive, hash, probe, store), p50,
  sent as fast as loopback takes it and paced at --pace-mbps (a client on a real network:
  with object storage the parts are in the store by the time the last byte arrives);
- first Range GET of a stored file (proxied: the API node fetches it into its scratch cache;
  redirected: the 307 and the store's answer), p50;
- download: a whole file not read before, p50 seconds, and the API's CPU ms for it (/proc);
- seeks: Range GETs of 64 KiB at random offsets of files once read (a player seeking), p50 /
  p95 ms, as a player asking the API each time (redirected: 307 then the store) and, for the
  redirect, at the presigned URL alone (a player that keeps it), and the API's CPU per seek.

    python bench/object_storage.py [--size-mb 50] [--files 8] [--requests 300] [--pace-mbps 400]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load.run import http_processes  # noqa: E402
from bench.request_cpu import cpu_seconds  # noqa: E402
from tests.support import SeaweedFS, Server, silent_wav  # noqa: E402

API = "/api/v1/recordings"


def ms(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100)[int(q) - 1] * 1000
        if len(samples) > 1
        else samples[0] * 1000
    )


def get(client: httpx.Client, url: str, **headers: str) -> tuple[httpx.Response, str]:
    """The answer a player ends with (following a 307), and the URL that gave it."""
    answer = client.get(url, headers=headers)
    if answer.status_code == 307:
        url = answer.headers["location"]
        answer = client.get(url, headers=headers)
    return answer, url


class Paced:
    """A file read no faster than `rate` bytes a second (what httpx sends it from)."""

    def __init__(self, path: Path, rate: float) -> None:
        self.file, self.rate, self.began = path.open("rb"), rate, time.perf_counter()
        self.sent, self.name = 0, path.name

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.sent += len(data)
        time.sleep(max(0.0, self.began + self.sent / self.rate - time.perf_counter()))
        return data


def paced_upload(server: Server, source: Path, mbps: float) -> float:
    began = time.perf_counter()
    answer = httpx.post(
        f"{server.url}{API}", files={"file": Paced(source, mbps * 1e6 / 8)}, timeout=300
    )
    assert answer.status_code == 202, answer.text
    return time.perf_counter() - began


def measure(
    server: Server, source: Path, files: int, requests: int, mbps: float
) -> dict[str, float]:
    pids = http_processes(server)
    paced = statistics.median(paced_upload(server, source, mbps) for _ in range(3))
    uploads, firsts, downloads, download_cpu, seeks, direct = [], [], [], [], [], []
    ids = []
    for _ in range(files):
        began = time.perf_counter()
        with source.open("rb") as f:
            answer = httpx.post(f"{server.url}{API}", files={"file": f}, timeout=300)
        uploads.append(time.perf_counter() - began)
        ids.append(answer.json()["id"])
    size = source.stat().st_size
    stored: dict[str, str] = {}  # id -> the URL that answered (the store's, when redirected)
    with httpx.Client(timeout=300) as client:
        for n, rid in enumerate(ids):
            url = f"{server.url}{API}/{rid}/stream"
            began, cpu = time.perf_counter(), cpu_seconds(pids)
            if n % 2:  # half the files are first read whole (a download), half by a Range
                answer, stored[rid] = get(client, url)
                downloads.append(time.perf_counter() - began)
                download_cpu.append(cpu_seconds(pids) - cpu)
                assert answer.status_code == 200 and len(answer.content) == size
            else:
                answer, stored[rid] = get(client, url, Range="bytes=0-65535")
                firsts.append(time.perf_counter() - began)
                assert answer.status_code == 206
        cpu = cpu_seconds(pids)
        for _ in range(requests):
            at = random.randrange(0, size - 65536)
            rid = random.choice(ids)
            began = time.perf_counter()
            answer, _ = get(
                client, f"{server.url}{API}/{rid}/stream", Range=f"bytes={at}-{at + 65535}"
            )
            seeks.append(time.perf_counter() - began)
            assert answer.status_code == 206
        seek_cpu_ms = (cpu_seconds(pids) - cpu) * 1000 / requests
        redirected = not stored[ids[0]].startswith(server.url)
        for _ in range(requests if redirected else 0):
            at = random.randrange(0, size - 65536)
            began = time.perf_counter()
            answer = client.get(
                stored[random.choice(ids)], headers={"Range": f"bytes={at}-{at + 65535}"}
            )
            direct.append(time.perf_counter() - began)
            assert answer.status_code == 206
    return {
        "upload p50 s": statistics.median(uploads),
        f"upload at {mbps:g} Mbit/s p50 s": paced,
        "first range p50 ms": statistics.median(firsts) * 1000,
        "download p50 s": statistics.median(downloads),
        "API CPU ms per download": statistics.median(download_cpu) * 1000,
        "seek p50 ms": ms(seeks, 50),
        "seek p95 ms": ms(seeks, 95),
        "API CPU ms per seek": seek_cpu_ms,
        "seek at the store p50 ms": ms(direct, 50) if direct else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pace-mbps", type=float, default=400)
    args = parser.parse_args()
    store = SeaweedFS().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "talk.wav"
            silent_wav(source, args.size_mb << 20, noise=True)
            servers = {
                "folder": Server(Path(folder) / "folder", env={}).start(),
                "s3 proxy": Server(
                    Path(folder) / "s3", env=store.env(uuid.uuid4().hex[:8])
                ).start(),
                "s3 redirect": Server(
                    Path(folder) / "s3r",
                    env={**store.env(uuid.uuid4().hex[:8]), "AUDIODAS_S3_STREAM": "redirect"},
                ).start(),
            }
            try:
                results = {
                    n: measure(s, source, args.files, args.requests, args.pace_mbps)
                    for n, s in servers.items()
                }
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        store.stop()
    print(f"{args.files} uploads of {args.size_mb} MB, {args.requests} seeks of 64 KiB"
          f" (API processes on {os.cpu_count()} cores, store on loopback)")  # fmt: skip
    print("| store | " + " | ".join(results["folder"]) + " |")
    print("|---|" + "---|" * len(results["folder"]))
    for name, figures in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in figures.values()) + " |")


if __name__ == "__main__":
    main()
