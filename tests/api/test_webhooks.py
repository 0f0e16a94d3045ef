"""Webhooks through the API: an upload's callback_url is checked, and a recording's deliveries
can be read and sent again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audiodas.domain import RecordingStatus
from audiodas.domain.webhooks import deliveries
from tests.api.conftest import API, snapshot, upload
from tests.support import WEBHOOK_SECRET, assert_error

HOOKS = "https://hooks.example.com/in?token=s3cret"


@pytest.fixture
def hooked(make_client):
    return make_client(webhook_urls=HOOKS, webhook_secret=WEBHOOK_SECRET)


def settle(client, recording_id: str, status: RecordingStatus) -> None:
    """The recording finished as the engine finishes it: status and events in one change."""
    runtime = client.app.state.runtime
    recording = runtime.repository.get(recording_id)
    recording.status = status
    now = datetime.now(UTC)
    events = deliveries(recording, now, urls=runtime.settings.webhook_urls)
    runtime.repository.set_status(recording_id, status, now, deliveries=events)


def test_a_callback_url_needs_the_webhook_secret(client, stored, audio_files) -> None:
    r = upload(client, audio_files["short_mp3"], callback_url="https://hooks.example.com/x")
    assert_error(r, 400, "invalid_field")
    assert "AUDIODAS_WEBHOOK_SECRET" in r.json()["detail"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data",
     "http://[::1]/", "http://10.0.0.8/", "file:///etc/passwd", "gopher://example.com/",
     "https://example.com/" + "a" * 2100],
)  # fmt: skip
def test_a_private_or_odd_callback_url_is_refused_and_nothing_kept(
    hooked, audio_files, url: str
) -> None:
    before = snapshot(hooked)
    r = upload(hooked, audio_files["short_mp3"], callback_url=url)
    assert_error(r, 400, "invalid_field")
    assert snapshot(hooked) == before


def test_a_private_callback_url_is_accepted_when_allowed(make_client, audio_files) -> None:
    client = make_client(webhook_secret=WEBHOOK_SECRET, webhook_allow_private=True)
    r = upload(client, audio_files["short_mp3"], callback_url="http://127.0.0.1:9000/hook")
    assert r.status_code == 202, r.text


def test_deliveries_show_each_event_and_can_be_sent_again(hooked, audio_files) -> None:
    own = "https://me:pw@own.example.com/done"
    accepted = upload(hooked, audio_files["short_mp3"], callback_url=own).json()
    path = f"{API}/{accepted['id']}/deliveries"
    assert hooked.get(path).json() == {"items": []}  # nothing is finished yet

    settle(hooked, accepted["id"], RecordingStatus.FAILED)
    items = hooked.get(path).json()["items"]
    assert sorted(d["url"] for d in items) == [
        "https://hooks.example.com/in?…", "https://own.example.com/done"]  # fmt: skip
    for d in items:
        assert (d["event"], d["status"], d["attempts"]) == ("recording.failed", "pending", 0)
        assert d["next_attempt_at"] and d["delivered_at"] is None and d["last_error"] is None

    outbox = hooked.app.state.runtime.webhooks
    while (claimed := outbox.claim(lease_s=60)) is not None:
        outbox.give_up(claimed.id, "answered 410")
    gone = hooked.get(path).json()["items"]
    assert {(d["status"], d["attempts"], d["last_error"]) for d in gone} == {
        ("failed", 1, "answered 410")}  # fmt: skip

    resent = hooked.post(f"{path}/{items[0]['id']}/resend")
    assert resent.status_code == 202, resent.text
    assert (resent.json()["id"], resent.json()["status"]) == (items[0]["id"], "pending")
    assert outbox.claim(lease_s=60).id == items[0]["id"]  # due now


def test_deliveries_of_what_does_not_exist_are_404(hooked, audio_files) -> None:
    assert_error(hooked.get(f"{API}/{'0' * 32}/deliveries"), 404, "not_found")
    assert_error(hooked.get(f"{API}/nonsense/deliveries"), 404, "not_found")
    path = f"{API}/{upload(hooked, audio_files['short_mp3']).json()['id']}/deliveries"
    assert_error(hooked.post(f"{path}/{'0' * 32}/resend"), 404, "not_found")
    assert_error(hooked.post(f"{path}/%00%ff/resend"), 404, "not_found")
