"""Peak memory of a long recording, per server process: `audiodas serve` with its engine
(default settings) processes one recording; each process's peak resident memory (VmHWM) is
read before and after, and the growth printed per process and in all.

As the issue reported it: a silent FLAC of 4 hours less a minute (a few MB, all of the engine's
work but Whisper's decoding). `--speech` loops speech instead (Dickens, then Beckett's two
voices), every stage at full work.

    python bench/long_memory.py [--hours 4] [--speech]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.long_transcripts import speech_of  # noqa: E402
from tests.support import Server, ffmpeg  # noqa: E402


def peaks(server: Server) -> dict[int, tuple[str, int]]:
    """Each server process's command and peak resident memory (MiB)."""
    found = {}
    for process in server.processes():
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except FileNotFoundError:
            continue
        peak = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
        )
        found[process.pid] = (" ".join(process.cmdline()[1:4]), peak >> 10)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=4)
    parser.add_argument("--speech", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.speech:
            source = speech_of(args.hours * 60, Path(folder))
        else:
            source = Path(folder) / "silent.flac"
            ffmpeg(
                "-f", "lavfi", "-i", "anullsrc=channel_layout=mono:sample_rate=16000",
                "-t", str(args.hours * 3600 - 60), "-c:a", "flac", str(source),
            )  # fmt: skip
        server = Server(Path(folder) / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}).start()
        try:
            before = peaks(server)
            with source.open("rb") as f:
                rec = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}, timeout=600)
            url = f"{server.url}/api/v1/recordings/{rec.json()['id']}"
            while (status := httpx.get(url).json()["status"]) not in ("done", "failed"):
                time.sleep(1)
            after = peaks(server)
        finally:
            server.stop()
    growth = 0
    for pid, (command, peak) in after.items():
        was = before.get(pid, (command, 0))[1]
        growth += peak - was
        print(f"{command:45s} {was:5d} -> {peak:5d} MiB (+{peak - was})")
    kind = "speech" if args.speech else "silence"
    print(f"{args.hours:g} h of {kind}: {status}; the server's peak grew {growth} MiB in all")


if __name__ == "__main__":
    main()
