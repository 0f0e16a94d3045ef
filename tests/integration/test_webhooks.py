"""The webhook outbox on each database, and the sender against a real HTTP receiver."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from audiodas.adapters import webhook_sender
from audiodas.adapters.database import SqlRecordingRepository, SqlWebhookOutbox
from audiodas.adapters.webhook_sender import WebhookSender
from audiodas.config import Settings
from audiodas.domain import RecordingStatus
from audiodas.domain.webhooks import deliveries
from tests.integration.test_database import make
from tests.support import WEBHOOK_SECRET, Receiver, free_port, signed_correctly


@pytest.fixture
def outbox(repository: SqlRecordingRepository) -> SqlWebhookOutbox:
    return SqlWebhookOutbox(repository.engine)


def finish(repository: SqlRecordingRepository, *urls: str, n: int = 1) -> str:
    """A recording stored, then settled `done` with an event for each of `urls`."""
    recording = make(n, datetime.now(UTC))
    repository.add(recording)
    recording.status = RecordingStatus.DONE
    now = datetime.now(UTC)
    events = deliveries(recording, now, urls=urls)
    repository.set_status(recording.id, RecordingStatus.DONE, now, deliveries=events)
    return recording.id


def test_events_are_queued_only_by_the_change_that_finishes_the_recording(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    recording_id = finish(repository, "https://a.example/h", "https://b.example/h")
    queued = outbox.of_recording(recording_id)
    assert sorted(d.url for d in queued) == ["https://a.example/h", "https://b.example/h"]
    assert {d.status for d in queued} == {"pending"} and outbox.pending() == 2
    # A second engine settling the same recording (a repeat) queues nothing more.
    recording = repository.get(recording_id)
    again = deliveries(recording, datetime.now(UTC), urls=["https://a.example/h"])
    repository.set_status(recording_id, RecordingStatus.DONE, datetime.now(UTC), deliveries=again)
    assert len(outbox.of_recording(recording_id)) == 2


def test_a_claim_holds_a_delivery_until_its_lease_runs_out(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    recording_id = finish(repository, "https://a.example/h")
    first = outbox.claim(lease_s=0.5)
    assert first is not None and first.attempts == 1
    assert outbox.claim(lease_s=0.5) is None  # held
    time.sleep(0.6)
    second = outbox.claim(lease_s=30)  # its sender died: the lease ran out
    assert second is not None and (second.id, second.attempts) == (first.id, 2)

    outbox.retry(second.id, "answered 503", datetime.now(UTC) + timedelta(seconds=30))
    assert outbox.claim(lease_s=30) is None  # backing off
    [shown] = outbox.of_recording(recording_id)
    assert (shown.status, shown.attempts, shown.last_error) == ("pending", 2, "answered 503")

    outbox.give_up(second.id, "answered 410")
    assert outbox.claim(lease_s=30) is None and outbox.pending() == 0
    assert outbox.of_recording(recording_id)[0].status == "failed"

    assert outbox.resend("f" * 32, second.id) is None  # not that recording's
    resent = outbox.resend(recording_id, second.id)
    assert resent is not None and (resent.status, resent.attempts) == ("pending", 0)
    third = outbox.claim(lease_s=30)
    assert third is not None and third.attempts == 1
    outbox.delivered(third.id)
    [done] = outbox.of_recording(recording_id)
    assert (done.status, done.last_error) == ("delivered", None) and done.delivered_at


def test_claims_from_many_senders_at_once_hand_out_each_delivery_once(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    for n in range(1, 11):
        finish(repository, "https://a.example/h", "https://b.example/h", n=n)
    claimed: list[str] = []

    def sender() -> None:
        while (delivery := outbox.claim(lease_s=60)) is not None:
            claimed.append(delivery.id)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 20 and len(set(claimed)) == 20


def test_deleting_a_recording_deletes_its_deliveries(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    recording_id = finish(repository, "https://a.example/h")
    kept = finish(repository, "https://a.example/h", n=2)
    assert repository.delete(recording_id)
    assert outbox.of_recording(recording_id) == [] and outbox.pending() == 1
    assert len(outbox.of_recording(kept)) == 1


# The sender, on a real outbox and a real receiver --------------------------------------------


def send_all(sender: WebhookSender, rounds: int, pause: float = 0.0) -> None:
    async def go() -> None:
        async with sender.client() as client:
            for _ in range(rounds):
                delivery = sender.outbox.claim(30)
                if delivery is not None:
                    await sender.send(client, delivery)
                await asyncio.sleep(pause)

    asyncio.run(go())


def test_a_failing_receiver_is_retried_with_back_off_and_gets_it_once(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    receiver = Receiver(answers=[500, 503])
    try:
        settings = Settings(webhook_allow_private=True, webhook_backoff_s=0.3)
        recording_id = finish(repository, f"{receiver.url}/hook")
        sender = WebhookSender(settings, outbox, WEBHOOK_SECRET.encode())
        send_all(sender, 1)
        assert len(receiver.received) == 1 and outbox.claim(30) is None  # backing off
        assert outbox.of_recording(recording_id)[0].last_error == "answered 500"
        send_all(sender, 12, pause=0.1)
        assert outbox.pending() == 0
    finally:
        receiver.close()
    assert [r["path"] for r in receiver.received] == ["/hook"] * 3
    ids = {r["headers"]["AudioDAS-Delivery"] for r in receiver.received}
    assert len(ids) == 1  # the same delivery each time: a receiver can drop repeats
    assert all(signed_correctly(r) for r in receiver.received)
    event = receiver.events()[-1]
    assert event["type"] == "recording.done" and event["data"]["id"] == recording_id
    assert receiver.received[-1]["headers"]["AudioDAS-Event"] == "recording.done"
    [delivery] = outbox.of_recording(recording_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_deliveries_are_given_up_after_the_last_attempt(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    recording_id = finish(repository, f"http://127.0.0.1:{free_port()}/nobody-listens")
    settings = Settings(webhook_allow_private=True, webhook_backoff_s=0.05, webhook_max_attempts=3)
    send_all(WebhookSender(settings, outbox, WEBHOOK_SECRET.encode()), 20, pause=0.05)
    [delivery] = outbox.of_recording(recording_id)
    assert (delivery.status, delivery.attempts) == ("failed", 3) and delivery.last_error


def test_a_receiver_that_never_answers_is_cut_off_at_the_timeout(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, then says nothing
    try:
        port = silent.getsockname()[1]
        recording_id = finish(repository, f"http://127.0.0.1:{port}/hook")
        settings = Settings(webhook_allow_private=True, webhook_timeout_s=0.5)
        started = time.monotonic()
        send_all(WebhookSender(settings, outbox, WEBHOOK_SECRET.encode()), 1)
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    [delivery] = outbox.of_recording(recording_id)
    assert delivery.status == "pending" and delivery.last_error == "no answer within 0.5 s"


def test_a_host_resolving_to_a_private_address_is_refused_when_sending(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    receiver = Receiver()
    try:
        # a name, not an address (the upload's check lets names through): resolved when sending
        recording_id = finish(repository, f"http://localhost:{receiver.port}/hook")
        send_all(WebhookSender(Settings(), outbox, WEBHOOK_SECRET.encode()), 2)
    finally:
        receiver.close()
    assert receiver.received == []
    [delivery] = outbox.of_recording(recording_id)
    assert delivery.status == "failed" and delivery.attempts == 1  # given up, not retried
    assert "private" in delivery.last_error


def resolve_as(monkeypatch, host: str, answers: Iterator[list[str]]) -> None:  # type: ignore[no-untyped-def]
    """`host` resolves to the next of `answers` at each lookup; other names as usual."""
    resolve = socket.getaddrinfo

    def fake(name, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name not in (host, host.encode()):  # anyio asks with the name encoded
            return resolve(name, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_the_address_checked_is_the_address_connected(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox, monkeypatch
) -> None:
    """DNS rebinding: a name that resolves to a public address when checked and to the
    receiver's loopback address a moment later must never reach the receiver. (No resolver
    here can be re-pointed for real, so the resolver's answers are faked.)"""
    receiver = Receiver()
    answers = iter([["192.88.99.1"]] + [["127.0.0.1"]] * 10)  # public first, then loopback
    resolve_as(monkeypatch, "hooks.example.com", answers)
    try:
        finish(repository, f"http://hooks.example.com:{receiver.port}/hook")
        settings = Settings(webhook_timeout_s=0.5, webhook_backoff_s=0.05, webhook_max_attempts=2)
        send_all(WebhookSender(settings, outbox, WEBHOOK_SECRET.encode()), 10, pause=0.1)
        assert outbox.pending() == 0  # the public address did not answer, then loopback refused
    finally:
        receiver.close()
    assert receiver.received == []
    assert next(answers) == ["127.0.0.1"]  # resolved once per attempt, not again to connect


def test_each_checked_address_is_tried_in_turn(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox, monkeypatch
) -> None:
    """A host with two addresses, the first not answering (say IPv6 on a machine without an IPv6
    route), is reached at the second. No public receiver exists offline, so loopback counts as
    public here, and the resolver's answers are faked."""
    receiver = Receiver()
    resolve_as(monkeypatch, "hooks.example.com", itertools.repeat(["127.0.0.2", "127.0.0.1"]))
    monkeypatch.setattr(webhook_sender, "private", lambda address: False)
    try:
        finish(repository, f"http://hooks.example.com:{receiver.port}/hook")
        send_all(WebhookSender(Settings(), outbox, WEBHOOK_SECRET.encode()), 1)
        assert outbox.pending() == 0
    finally:
        receiver.close()
    assert [r["path"] for r in receiver.received] == ["/hook"]


def test_redirects_are_not_followed(
    repository: SqlRecordingRepository, outbox: SqlWebhookOutbox
) -> None:
    """A public receiver could redirect to a private address: a redirect is a failed attempt."""
    receiver = Receiver(answers=[307])
    try:
        recording_id = finish(repository, f"{receiver.url}/hook")
        settings = Settings(webhook_allow_private=True)
        send_all(WebhookSender(settings, outbox, WEBHOOK_SECRET.encode()), 1)
    finally:
        receiver.close()
    [delivery] = outbox.of_recording(recording_id)
    assert delivery.status == "pending" and delivery.last_error == "answered 307"
