"""On PostgreSQL, a read waiting on the database holds up no other request of its HTTP process:
the event loop goes on serving while it is awaited (`adapters/database/awaited.py`)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg


def test_a_read_waiting_on_postgresql_holds_up_no_other_request(
    postgres, start_server, audio_files
) -> None:
    url = postgres.create_database(f"r_{uuid.uuid4().hex[:12]}")
    server = start_server(audiodas_database_url=url)  # one HTTP process
    with audio_files["short_mp3"].open("rb") as f:
        accepted = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}, timeout=30)
    recording = f"{server.url}/api/v1/recordings/{accepted.json()['id']}"
    first_bytes = {"Range": "bytes=0-99"}
    assert httpx.get(f"{recording}/stream", headers=first_bytes).status_code == 206  # playing

    # A long transaction holds the table (a migration, a maintenance job): reads of it wait.
    with psycopg.connect(url) as holder, ThreadPoolExecutor(1) as pool:
        holder.execute("LOCK TABLE recordings IN ACCESS EXCLUSIVE MODE")
        waiting = pool.submit(httpx.get, recording, timeout=60)
        time.sleep(1)
        assert not waiting.done()
        started = time.monotonic()
        played = httpx.get(f"{recording}/stream", headers=first_bytes, timeout=10)
        assert played.status_code == 206
        assert time.monotonic() - started < 2  # the player is not held up behind the read
        assert not waiting.done()
        holder.rollback()
        assert waiting.result().status_code == 200  # and the read is answered once it can be
