"""The user mix of the load suite (run by bench/load/run.py, which sets LOAD_FIXTURES).

Listeners (1000 by default, 0.5-1.5 s think time) list recordings, read one, stream a variant
with a Range seek of 64 KiB-1 MiB, follow a recording's progress (SSE) and check health; one
Uploader sends about one recording a second so the engine never runs out of work. ShortUploader
(the "stream" busy scenario) sends one short speech clip (4-20 s) a second instead, each
processed as it arrives: state changes, writes, events and FFmpeg runs several times a second.
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import FastHttpUser, between, constant_throughput, task

FIXTURES = json.loads(os.environ.get("LOAD_FIXTURES", "{}"))
RECORDINGS: dict[str, dict[str, int]] = FIXTURES.get("recordings", {})  # id -> variant -> size
IDS = list(RECORDINGS)


class Listener(FastHttpUser):
    wait_time = between(0.5, 1.5)

    @task(3)
    def list_recordings(self) -> None:
        self.client.get("/api/v1/recordings?limit=50", name="list")

    @task(4)
    def read_recording(self) -> None:
        self.client.get(f"/api/v1/recordings/{random.choice(IDS)}", name="get")

    @task(9)
    def stream(self) -> None:
        recording = random.choice(IDS)
        variant = random.choice(list(RECORDINGS[recording]))
        size = RECORDINGS[recording][variant]
        length = min(size, random.randint(64 << 10, 1 << 20))
        start = random.randint(0, size - length)
        self.client.get(
            f"/api/v1/recordings/{recording}/stream?variant={variant}",
            headers={"Range": f"bytes={start}-{start + length - 1}"},
            name=f"stream {variant}",
        )

    @task(1)
    def progress(self) -> None:
        # A finished recording's stream: snapshot, then done, then the server closes it.
        self.client.get(f"/api/v1/recordings/{random.choice(IDS)}/events", name="events")

    @task(1)
    def health(self) -> None:
        self.client.get("/healthz", name="healthz")


def multipart(path: str, boundary: str) -> bytes:
    with open(path, "rb") as f:
        audio = f.read()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{os.path.basename(path)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    return head.encode() + audio + f"\r\n--{boundary}--\r\n".encode()


class Uploader(FastHttpUser):
    fixed_count = 1
    wait_time = constant_throughput(1)
    clips_key = "upload"

    def on_start(self) -> None:
        self.boundary = uuid.uuid4().hex
        paths = FIXTURES[self.clips_key]
        self.bodies = [
            multipart(p, self.boundary) for p in (paths if isinstance(paths, list) else [paths])
        ]

    @task
    def upload(self) -> None:
        self.client.post(
            "/api/v1/recordings",
            data=random.choice(self.bodies),
            headers={"Content-Type": f"multipart/form-data; boundary={self.boundary}"},
            name="upload",
        )


class ShortUploader(Uploader):
    clips_key = "short"
