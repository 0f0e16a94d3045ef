"""Live transcription on a real server (`audiodas serve` with its engine): how long after a
stretch of speech its `final` arrives, what a session costs in CPU, and how many sessions at
once this machine keeps within the 3 s the README promises.

Each session streams espeak-ng speech (tests/test_live.py's script, said `--repeat` times) at
real-time pace in 100 ms frames, as the web app does. A final's delay is its arrival minus the
end of the speech it settles (its `end`, in the session's time; the client's clock starts with
the first frame). CPU per audio second is read from /proc: the live inference process (the
engine's child at AUDIODAS_LIVE_NICE) and the HTTP process, over the sessions' audio.

- idle: one session, the engine otherwise idle;
- busy: one session while the engine transcribes uploads (both AI slots busy);
- at once: 1..--most sessions together (AUDIODAS_LIVE_SESSIONS raised to allow them);
- --hour: one session of an hour's audio sent as fast as the server takes it, memory of the
  HTTP and live processes sampled (flat, or not).

    python bench/live.py [--repeat 2] [--most 4] [--hour]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load.run import http_processes  # noqa: E402
from tests.support import Server, espeak, pcm16k, stream_live, two_talks  # noqa: E402
from tests.test_live import SCRIPT  # noqa: E402

LIVE_NICE = 10


def live_processes(server: Server) -> list[psutil.Process]:
    return [p for p in server.processes() if p.nice() == LIVE_NICE]


def cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def delays(run) -> list[float]:  # type: ignore[no-untyped-def]
    return [at - m["end"] for at, m in run.messages if m.get("type") == "final"]


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def sessions(server: Server, pcm: bytes, count: int) -> tuple[list[float], float]:
    """`count` sessions at once; every final's delay, and CPU seconds per audio second."""
    url = server.url.replace("http://", "ws://") + "/api/v1/live"
    processes = [psutil.Process(pid) for pid in http_processes(server)]
    stream_live(url, pcm[:32000], pace=0)  # the live process started (not counted)
    processes += live_processes(server)
    before = cpu_s(processes)
    runs: list = [None] * count
    threads = [
        threading.Thread(target=lambda i=i: runs.__setitem__(i, stream_live(url, pcm)))
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = cpu_s(processes) - before
    found = [d for run in runs for d in delays(run)]
    return found, spent / (count * len(pcm) / 32000)


def keep_busy(server: Server, folder: Path, stop: threading.Event) -> None:
    """Uploads one after the other, each a few minutes of speech: both AI slots transcribing."""
    talk = two_talks(folder)
    while not stop.is_set():
        with talk.open("rb") as f:
            httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}, timeout=120)
        stop.wait(20)


def hour(server: Server, pcm: bytes) -> None:
    url = server.url.replace("http://", "ws://") + "/api/v1/live"
    audio = pcm * (3600 // (len(pcm) // 32000) + 1)
    audio = audio[: 3600 * 32000]
    stream_live(url, pcm[:32000], pace=0)  # the live process started, to be watched too
    watched = [psutil.Process(pid) for pid in http_processes(server)] + live_processes(server)
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        began = time.monotonic()
        while not done.wait(5):
            rss = sum(p.memory_info().rss for p in watched) / 2**20
            samples.append((time.monotonic() - began, rss))

    threading.Thread(target=sample, daemon=True).start()
    began = time.monotonic()
    run = stream_live(url, audio, pace=0, chunk_s=1.0, timeout=600)
    done.set()
    finals = [m for _, m in run.messages if m.get("type") == "final"]
    print(f"one hour sent as fast as taken: {time.monotonic() - began:.0f} s, "
          f"{len(finals)} finals, last ends at {finals[-1]['end']:.0f} s, close {run.close_code}")  # fmt: skip
    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]
    print(f"HTTP + live process RSS ({len(watched)} processes): first third {statistics.mean(r for _, r in first):.0f} MiB, "
          f"last third {statistics.mean(r for _, r in last):.0f} MiB, "
          f"peak {max(r for _, r in samples):.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2, help="the script said this many times")
    parser.add_argument("--most", type=int, default=4, help="sessions at once, at most")
    parser.add_argument("--hour", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "script.txt").write_text(SCRIPT)
        pcm = pcm16k(espeak(folder / "script.txt", folder / "talk.wav")) * args.repeat
        env = {"AUDIODAS_EMBEDDED_WORKER": "true", "AUDIODAS_LIVE_SESSIONS": str(args.most)}
        server = Server(folder / "data", env=env).start(timeout=120)
        try:
            if args.hour:
                return hour(server, pcm)
            print(f"{len(pcm) / 32000:.0f} s of speech a session, real-time pace, 100 ms frames")
            print(
                "| engine | sessions at once | finals | delay p50 | delay p95 | CPU s per audio s |"
            )
            print("|---|---|---|---|---|---|")
            rows = [("idle", 1)] + [("idle", n) for n in range(2, args.most + 1)]
            for engine, count in rows:
                found, cpu = sessions(server, pcm, count)
                print(f"| {engine} | {count} | {len(found)} | {quantile(found, 50):.2f} s | "
                      f"{quantile(found, 95):.2f} s | {cpu:.3f} |")  # fmt: skip
            stop = threading.Event()
            threading.Thread(target=keep_busy, args=(server, folder, stop), daemon=True).start()
            time.sleep(10)  # the uploads' transcription under way
            for count in (1, 2):
                found, cpu = sessions(server, pcm, count)
                print(f"| busy (2 AI slots transcribing) | {count} | {len(found)} | "
                      f"{quantile(found, 50):.2f} s | {quantile(found, 95):.2f} s | {cpu:.3f} |")  # fmt: skip
            stop.set()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
