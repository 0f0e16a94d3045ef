"""Webhook rules: which targets are allowed, what is sent, how it is signed, when it is retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from audiodas.config import Settings
from audiodas.domain import AudioInfo, Recording, RecordingStatus, Rejected
from audiodas.domain.webhooks import backoff, check_target, deliveries, shown
from audiodas.services.signing import webhook_signature
from tests.support import WEBHOOK_SECRET, signed_correctly

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://localhost/x", "http://a.localhost/x", "http://10.1.2.3/",
     "http://[::1]/", "http://169.254.169.254/latest/meta-data", "http://192.168.0.5/",
     "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/", "ftp://example.com/",
     "http:///nohost", "example.com/hook", "http://example.com:port/", "javascript:alert(1)",
     "https://example.com/" + "a" * 2048],
)  # fmt: skip
def test_loopback_private_and_non_http_targets_are_refused(url: str) -> None:
    with pytest.raises(Rejected) as refused:
        check_target(url, allow_private=False)
    assert refused.value.code == Rejected.INVALID_FIELD


def test_public_targets_and_allowed_private_ones_pass() -> None:
    assert check_target("https://hooks.example.com/a?b=1", allow_private=False)
    assert check_target("http://8.8.8.8/hook", allow_private=False)
    assert check_target("http://127.0.0.1:9000/hook", allow_private=True)
    with pytest.raises(Rejected):  # allowing private addresses allows no other scheme
        check_target("file:///etc/passwd", allow_private=True)


def test_settings_refuse_unsigned_or_private_webhook_urls() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        Settings(webhook_urls="https://hooks.example.com/a")
    with pytest.raises(ValueError, match="private"):
        Settings(webhook_urls="http://127.0.0.1/a", webhook_secret="s")
    allowed = Settings(
        webhook_urls="http://127.0.0.1/a, http://127.0.0.1/b",
        webhook_secret="s",
        webhook_allow_private=True,
    )
    assert allowed.webhook_urls == ["http://127.0.0.1/a", "http://127.0.0.1/b"]
    assert "s" not in repr(allowed.webhook_secret)  # never printed with the settings


def recording(status: RecordingStatus, callback_url: str | None = None) -> Recording:
    info = AudioInfo("wav", "audio/wav", "wav", "pcm_s16le", 12.5, 16000, 1)
    found = Recording.new(
        id="ab" * 16, filename="talk.wav", info=info, size_bytes=400_000, sha256="cd" * 32,
        now=NOW, retention_days=1826, original_path="recordings/x/original.wav",
        callback_url=callback_url,
    )  # fmt: skip
    found.status, found.summary = status, "Prices rose."
    return found


def test_a_finished_recording_has_one_event_per_target_and_an_unfinished_none() -> None:
    urls = ["https://a.example/hook", "https://b.example/hook", "https://a.example/hook"]
    done = deliveries(
        recording(RecordingStatus.DONE, "https://own.example/x"), NOW, urls=urls,
        base="https://audio.example",
    )  # fmt: skip
    assert [d.url for d in done] == [
        "https://a.example/hook", "https://b.example/hook", "https://own.example/x"]  # fmt: skip
    assert len({d.id for d in done}) == 3  # a receiver drops repeats by id: ids never shared
    body = json.loads(done[0].body)
    assert body["id"] == done[0].id and body["type"] == "recording.done"
    assert body["created_at"] == "2026-11-29T12:00:00Z"
    assert body["data"]["summary"] == "Prices rose." and body["data"]["status"] == "done"
    assert body["data"]["links"]["transcript"] == (
        f"https://audio.example/api/v1/recordings/{'ab' * 16}/transcript"
    )
    events = {
        status: [d.event for d in deliveries(recording(status), NOW, urls=urls[:1])]
        for status in RecordingStatus
    }
    assert events == {
        RecordingStatus.QUEUED: [],
        RecordingStatus.PROCESSING: [],
        RecordingStatus.DONE: ["recording.done"],
        RecordingStatus.FAILED: ["recording.failed"],
        RecordingStatus.REJECTED: ["recording.rejected"],
    }


def test_the_signature_checks_with_the_readme_snippet_and_no_other_secret_or_body() -> None:
    body = b'{"id": "1"}'
    request = {
        "headers": {"AudioDAS-Signature": webhook_signature(body, int(NOW.timestamp()), b"x")},
        "body": body,
    }
    assert not signed_correctly(request, secret="x")  # 2026-11-29 12:00 is no longer fresh
    now = int(datetime.now(UTC).timestamp())
    request["headers"]["AudioDAS-Signature"] = webhook_signature(body, now, WEBHOOK_SECRET.encode())
    assert signed_correctly(request)
    assert not signed_correctly(request, secret="another secret")
    assert not signed_correctly({**request, "body": b'{"id": "2"}'})


def test_back_off_doubles_up_to_an_hour() -> None:
    waits = [backoff(n, 5) for n in range(1, 14)]
    assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert waits[-1] == timedelta(hours=1)


def test_the_api_shows_no_credentials_of_a_target() -> None:
    assert shown("https://user:pw@hooks.example/in?token=s3cret") == "https://hooks.example/in?…"
    assert shown("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
