"""Time to first text and time to done for long recordings, on a real server (`audiodas serve`
with its engine, default settings: 5-minute windows, 2 AI slots), one recording at a time.

Each recording is speech (Dickens read by one voice, then Beckett's dialogue, looped to the
length). Time is counted from the upload's 202: "first text" when the recording's
`transcript_progress.done_s` first moves, "transcribed" when the transcribe stage is done
(speakers settled), "done" when the recording is. Wall time on a quiet machine: run it alone.

    python bench/long_transcripts.py [--minutes 5,20,60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import Server, ffmpeg, two_talks  # noqa: E402

API = "/api/v1/recordings"


def speech_of(minutes: float, folder: Path) -> Path:
    pair = folder / "two_talks.wav"
    if not pair.exists():
        two_talks(folder)
    path = folder / f"{minutes:g}min.flac"
    ffmpeg("-stream_loop", "-1", "-i", str(pair), "-t", str(minutes * 60), str(path))
    return path


def measure(server: Server, path: Path) -> dict[str, float]:
    with path.open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": f}, timeout=120).json()
    began, found = time.monotonic(), {}
    while "done" not in found:
        now = httpx.get(f"{server.url}{API}/{rec['id']}").json()
        at = time.monotonic() - began
        if now["transcript_progress"]["done_s"] > 0:
            found.setdefault("first text", at)
        if any(s["name"] == "transcribe" and s["status"] == "done" for s in now["stages"]):
            found.setdefault("transcribed", at)
        if now["status"] in ("done", "failed", "rejected"):
            assert now["status"] == "done", now
            found["done"] = at
        time.sleep(0.25)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", default="5,20,60")
    lengths = [float(m) for m in parser.parse_args().minutes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}).start()
        try:
            print("| length | first text | transcribed | done |")
            print("|---|---|---|---|")
            for minutes in lengths:
                times = measure(server, speech_of(minutes, Path(folder)))
                print(f"| {minutes:g} min | {times['first text']:.0f} s | "
                      f"{times['transcribed']:.0f} s | {times['done']:.0f} s |", flush=True)  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
