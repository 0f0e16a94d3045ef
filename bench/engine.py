"""The engine against its own stages, and API latency while it is saturated.

1. Throughput: N recordings through the engine (2-2-2 slots, branches in parallel) against
   the same stages called directly, one after another, in this same run. Prints audio seconds
   per wall second for both and the engine's CPU overhead (CPU seconds, this process and its
   FFmpeg children, engine / direct - 1; target within 10 %).
2. Latency: p95 of GET /api/v1/recordings/{id} on an idle `audiodas serve`, then while the
   engine is saturated with uploads (target: busy p95 at most twice idle p95).

Usage: python bench/engine.py [--recordings 6] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import Server, speech_assets  # noqa: E402
from tests.support import ffmpeg as run_ffmpeg_cli

from audiodas.adapters import ffmpeg  # noqa: E402
from audiodas.adapters.media import probe  # noqa: E402
from audiodas.commands.process import ingest_file  # noqa: E402
from audiodas.config import Settings  # noqa: E402
from audiodas.engine import Engine  # noqa: E402
from audiodas.runtime import open_engine, open_runtime  # noqa: E402


def cpu_seconds(engine: Engine) -> float:
    """This process, its finished children (FFmpeg) and its live inference processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    models = sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in engine.ai.processes)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + models


async def direct(engine: Engine, files: list[Path], tmp: Path) -> None:
    """The same work as the pipeline, called one stage after another."""
    binary = engine.pipeline.encoder.binary
    for i, path in enumerate(files):
        await ffmpeg.run_ffmpeg(binary, ffmpeg.archive_args(path, tmp / f"{i}.m4a", 1), timeout=600)
        await ffmpeg.run_ffmpeg(binary, ffmpeg.echo_args(path, tmp / f"{i}.mp3"), timeout=600)
        async with engine.ai.slots.hold():
            transcript = await engine.ai.transcribe(path, timeout=600)
        async with engine.ai.slots.hold():
            await engine.ai.summarize(transcript.text, timeout=600)


async def through_engine(engine: Engine, runtime, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    await engine.start()
    while True:
        recs = [await asyncio.to_thread(runtime.repository.get, i) for i in ids]
        if all(r.status.finished for r in recs):
            break
        await asyncio.sleep(0.05)


def throughput(files: list[Path], audio_s: float, tmp: Path) -> None:
    runtime = open_runtime(Settings(data_dir=tmp / "data"))
    engine = open_engine(runtime)

    async def run() -> tuple[float, float, float, float]:
        await runtime.start()
        await engine.ai.start()
        cpu0, t0 = cpu_seconds(engine), time.perf_counter()
        await direct(engine, files, tmp)
        # Ingest (copy, hash, probe) is upload work, not engine work: keep it out of the timing.
        ids = [(await asyncio.to_thread(ingest_file, runtime, f, None)).id for f in files]
        cpu1, t1 = cpu_seconds(engine), time.perf_counter()
        await through_engine(engine, runtime, ids)
        cpu2, t2 = cpu_seconds(engine), time.perf_counter()
        await engine.stop(0)
        await runtime.close()
        return t1 - t0, cpu1 - cpu0, t2 - t1, cpu2 - cpu1

    direct_wall, direct_cpu, engine_wall, engine_cpu = asyncio.run(run())
    print(f"throughput, {len(files)} recordings, {audio_s:.0f} s of audio")
    print(
        f"  stages one after another: {audio_s / direct_wall:7.1f} audio-s/s  ({direct_cpu:.1f} CPU s)"
    )
    print(
        f"  engine (2-2-2, parallel): {audio_s / engine_wall:7.1f} audio-s/s  ({engine_cpu:.1f} CPU s)"
    )
    print(f"  ratio engine / direct throughput: {direct_wall / engine_wall:.2f}")
    print(
        f"  engine CPU overhead: {100 * (engine_cpu / direct_cpu - 1):+.1f} %  (target within 10 %)"
    )


def p95_latency(url: str, n: int) -> float:
    times = []
    with httpx.Client() as client:
        for _ in range(n):
            t = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append(time.perf_counter() - t)
            time.sleep(0.01)
    return statistics.quantiles(times, n=20)[-1]


def latency(files: list[Path], requests: int, tmp: Path) -> None:
    server = Server(tmp / "api-data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}).start()
    try:
        with files[0].open("rb") as f:
            rec = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}).json()
        url = f"{server.url}/api/v1/recordings/{rec['id']}"
        while httpx.get(url).json()["status"] not in ("done", "failed"):
            time.sleep(0.2)
        idle = p95_latency(url, requests)

        def flood() -> None:
            for f in files * 2:
                with f.open("rb") as fh:
                    httpx.post(f"{server.url}/api/v1/recordings", files={"file": fh}, timeout=60)

        uploader = threading.Thread(target=flood)
        uploader.start()
        uploader.join()
        time.sleep(1)  # the engine is now saturated (2 recordings, 2 FFmpeg, 2 AI)
        busy = p95_latency(url, requests)
        in_use = [
            line
            for line in httpx.get(f"{server.url}/metrics").text.splitlines()
            if line.startswith("audiodas_slots_in_use")
        ]
    finally:
        server.stop()
    print(f"API latency, GET /api/v1/recordings/{{id}}, {requests} requests")
    print(f"  idle p95: {idle * 1000:7.1f} ms")
    print(
        f"  busy p95: {busy * 1000:7.1f} ms   ({', '.join(line.split('kind=')[1] for line in in_use)})"
    )
    print(f"  ratio busy / idle: {busy / idle:.2f}  (target at most 2)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "speech.wav"  # 89 s of human speech
        run_ffmpeg_cli(
            "-stream_loop",
            "1",
            "-i",
            str(speech_assets() / "two_cities.wav"),
            "-c",
            "copy",
            str(clip),
        )
        files = []
        for i in range(args.recordings):
            copy = tmp / f"speech{i}.wav"
            copy.write_bytes(clip.read_bytes())
            files.append(copy)
        audio_s = probe(clip).duration_s * len(files)
        throughput(files, audio_s, tmp)
        latency(files, args.requests, tmp)


if __name__ == "__main__":
    main()
