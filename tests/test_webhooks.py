"""Webhooks end to end: a real server processing real audio tells a real receiver, once, signed,
and across a restart. (Two workers on PostgreSQL: tests/test_many_workers.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support import WEBHOOK_SECRET, Receiver, espeak, free_port, signed_correctly
from tests.test_engine import upload, wait_finished

DATA = Path(__file__).parent / "data"


def hooked_env(receiver_url: str) -> dict[str, str]:
    return {
        "audiodas_webhook_urls": f"{receiver_url}/hook",
        "audiodas_webhook_secret": WEBHOOK_SECRET,
        "audiodas_webhook_allow_private": "true",
        "audiodas_webhook_backoff_s": "0.5",
    }


def test_each_event_reaches_its_receivers_once_signed(
    start_server, assets, corrupt_in_the_middle, tmp_path
) -> None:
    cooking = espeak(DATA / "speech" / "cooking.txt", tmp_path / "cooking.wav")
    receiver = Receiver()
    try:
        server = start_server(
            audiodas_embedded_worker="true", audiodas_domain_policy="reject",
            audiodas_retry_backoff_s="0.05", **hooked_env(receiver.url),
        )  # fmt: skip
        done = upload(server, assets / "beckett.wav", callback_url=f"{receiver.url}/own")
        rejected = upload(server, cooking, domain="economics")
        failed = upload(server, corrupt_in_the_middle)
        finished = {rec["id"]: wait_finished(server, rec["id"]) for rec in (done, rejected, failed)}
        events = receiver.wait(3)
        own = receiver.wait(1, path="/own")
        time.sleep(3)  # anything sent twice would have arrived by now
        assert receiver.events() == events and receiver.events("/own") == own
        shown = httpx.get(f"{server.url}/api/v1/recordings/{done['id']}/deliveries").json()
    finally:
        receiver.close()
    by_recording = {e["data"]["id"]: e for e in events}
    assert len(events) == 3 and len(by_recording) == 3
    assert by_recording[done["id"]]["type"] == "recording.done"
    for recording_id, event in by_recording.items():  # the recording as it was finished
        assert event["data"]["summary"] == finished[recording_id]["summary"]
        assert event["data"]["status"] == finished[recording_id]["status"]
    assert by_recording[done["id"]]["data"]["summary"]
    assert by_recording[rejected["id"]]["type"] == "recording.rejected"
    assert by_recording[failed["id"]]["type"] == "recording.failed"
    assert [e["data"]["id"] for e in own] == [done["id"]]  # its own URL, and only its event
    assert all(signed_correctly(r) for r in receiver.received)
    assert {r["headers"]["AudioDAS-Event"] for r in receiver.received} == {
        "recording.done", "recording.rejected", "recording.failed"}  # fmt: skip
    assert sorted((d["url"], d["status"], d["attempts"]) for d in shown["items"]) == [
        (f"{receiver.url}/hook", "delivered", 1), (f"{receiver.url}/own", "delivered", 1)]  # fmt: skip


@pytest.mark.database  # the outbox is the database's
def test_an_event_not_yet_delivered_survives_a_restart_and_arrives_once(
    start_server, assets
) -> None:
    port = free_port()  # nobody listens there yet: every attempt fails
    server = start_server(audiodas_embedded_worker="true", **hooked_env(f"http://127.0.0.1:{port}"))
    rec = upload(server, assets / "beckett.wav")
    assert wait_finished(server, rec["id"])["status"] == "done"
    time.sleep(1.5)  # an attempt or two failed meanwhile
    assert "audiodas_webhooks_pending 1.0" in httpx.get(f"{server.url}/metrics").text
    [pending] = httpx.get(f"{server.url}/api/v1/recordings/{rec['id']}/deliveries").json()["items"]
    assert pending["status"] == "pending" and pending["attempts"] >= 1 and pending["last_error"]
    server.stop()

    receiver = Receiver(port=port)
    try:
        server.start()  # the same data folder and database
        events = receiver.wait(1, timeout=60)
        time.sleep(3)
        assert receiver.events() == events
    finally:
        receiver.close()
    assert [(e["type"], e["data"]["id"]) for e in events] == [("recording.done", rec["id"])]
    assert events[0]["id"] == pending["id"]  # the same event, not a new one
    assert signed_correctly(receiver.received[0])
    assert "audiodas_webhooks_pending 0.0" in httpx.get(f"{server.url}/metrics").text
    assert WEBHOOK_SECRET not in server.read_log()
