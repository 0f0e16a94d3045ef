"""Upload ingest and Range GET throughput of a running `audiodas serve`, each next to a
baseline measured in the same run on the same machine:

- ingest: MB/s of POST /api/v1/recordings (stream to disk, SHA-256, fsync, probe) against
  writing and hashing the same bytes straight to disk in this process; peak server RSS.
- range: 64 KiB Range GETs per second on /stream against whole-file GETs of a 64 KiB file
  (the same bytes without range handling), both over keep-alive connections.

Usage: python bench/ingest_and_range.py [--size-mb 256] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import Server, silent_wav  # noqa: E402


def baseline_ingest(source: Path, target_dir: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    target = target_dir / "baseline.bin"
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


async def range_rate(url: str, size: int, n: int, ranged: bool, connections: int = 16) -> float:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        sem = asyncio.Semaphore(connections)

        async def one() -> None:
            async with sem:
                headers = {}
                if ranged:
                    start = random.randrange(0, size - 65536)
                    headers["Range"] = f"bytes={start}-{start + 65535}"
                r = await client.get(url, headers=headers)
                assert r.status_code == (206 if ranged else 200) and len(r.content) == 65536

        await asyncio.gather(*(one() for _ in range(50)))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    size = args.size_mb << 20
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = Server(
            tmp / "data", env={"AUDIODAS_MAX_UPLOAD_MB": str(args.size_mb + 10)}
        ).start()
        try:
            src = tmp / "upload.wav"
            silent_wav(src, size, noise=True)
            small = tmp / "small.wav"
            silent_wav(small, 1 << 20)
            with small.open("rb") as f:
                httpx.post(f"{server.url}/api/v1/recordings", files={"file": f})
            rss_before = server.peak_rss()

            base_s = baseline_ingest(src, tmp)
            started = time.perf_counter()
            with src.open("rb") as f:
                rec = httpx.post(
                    f"{server.url}/api/v1/recordings", files={"file": f}, timeout=600
                ).json()
            api_s = time.perf_counter() - started
            rss_after = server.peak_rss()

            tiny = tmp / "tiny.wav"  # a whole file of exactly 64 KiB
            silent_wav(tiny, 65536)
            with tiny.open("rb") as f:
                tiny_rec = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}).json()
            stream = f"{server.url}/api/v1/recordings/{rec['id']}/stream"
            whole = f"{server.url}/api/v1/recordings/{tiny_rec['id']}/stream"
            whole_rate = asyncio.run(range_rate(whole, 65536, args.requests, ranged=False))
            range_rps = asyncio.run(range_rate(stream, size, args.requests, ranged=True))
        finally:
            server.stop()

    mb = size / 1e6
    print(f"ingest of {args.size_mb} MiB")
    print(f"  baseline (hash + write + fsync in-process): {mb / base_s:8.1f} MB/s")
    print(f"  POST /api/v1/recordings:                    {mb / api_s:8.1f} MB/s")
    print(f"  ratio API / baseline:                       {base_s / api_s:8.2f}")
    print(
        f"  server peak RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after"
    )
    print(f"range GET, 64 KiB, 16 connections, {args.requests} requests")
    print(f"  baseline (whole 64 KiB file, no Range):     {whole_rate:8.0f} req/s")
    print(f"  Range bytes=a-b on a {args.size_mb} MiB file:      {range_rps:8.0f} req/s")
    print(f"  ratio Range / whole:                        {range_rps / whole_rate:8.2f}")


if __name__ == "__main__":
    main()
