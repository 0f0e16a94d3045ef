"""Telling other systems that a recording is finished: events, deliveries and where they may go."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from audiodas.domain.errors import Rejected
from audiodas.domain.recording import Recording, RecordingStatus

EVENTS = {
    RecordingStatus.DONE: "recording.done",
    RecordingStatus.FAILED: "recording.failed",
    RecordingStatus.REJECTED: "recording.rejected",
}
MAX_URL = 2048


@dataclass(frozen=True)
class Delivery:
    """One event for one URL. Its `id` is the event's id for that URL, the same on every
    attempt: receivers drop repeats by it (delivery is at least once)."""

    id: str
    recording_id: str
    event: str
    url: str
    body: bytes  # the JSON sent, fixed when the event happened
    attempts: int  # begun so far (one being sent counts)
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    given_up_at: datetime | None = None
    last_error: str | None = None

    @property
    def status(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        return "failed" if self.given_up_at is not None else "pending"

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "event": self.event,
            "url": shown(self.url),
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "next_attempt_at": self.next_attempt_at if self.status == "pending" else None,
            "delivered_at": self.delivered_at,
        }


def shown(url: str) -> str:
    """A target as the API shows it: without the user, password and query a receiver may use
    as credentials."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" + ("?…" if parts.query else "")


def backoff(attempts: int, base_s: float, cap_s: float = 3600) -> timedelta:
    """The wait after attempt number `attempts` failed: doubling from `base_s`, at most `cap_s`."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def check_target(url: str, *, allow_private: bool) -> str:
    """A webhook URL as given, or Rejected: http(s) with a host, and not a loopback or private
    address unless `allow_private`. A host name is checked again, resolved, at delivery."""
    if len(url) > MAX_URL:
        raise Rejected(Rejected.INVALID_FIELD, f"a webhook URL is at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise Rejected(
            Rejected.INVALID_FIELD, "a webhook URL must be http:// or https:// with a host"
        )
    if not allow_private and (
        host == "localhost" or host.endswith(".localhost") or (_is_ip(host) and private(host))
    ):
        raise Rejected(
            Rejected.INVALID_FIELD,
            f"webhook host {host} is a loopback or private address "
            "(AUDIODAS_WEBHOOK_ALLOW_PRIVATE=true allows it)",
        )
    return url


def private(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), reserved: not a public internet address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def deliveries(
    recording: Recording, now: datetime, *, urls: Sequence[str], base: str = ""
) -> list[Delivery]:
    """The event a recording's status is, for each of `urls` and its own callback URL; none
    while it is not finished. `base`: the server's public URL, for the payload's links."""
    event = EVENTS.get(recording.status)
    if event is None:
        return []
    own = [recording.callback_url] if recording.callback_url else []
    found = []
    for url in dict.fromkeys([*urls, *own]):
        delivery_id = uuid.uuid4().hex
        body = json.dumps(payload(event, delivery_id, now, recording, base)).encode()
        found.append(Delivery(delivery_id, recording.id, event, url, body, 0, now, now))
    return found


def payload(event: str, delivery_id: str, now: datetime, recording: Recording, base: str) -> dict:
    """What a receiver gets. `base`: the server's public URL ("" for paths only)."""
    path = f"{base}/api/v1/recordings/{recording.id}"
    return {
        "id": delivery_id,
        "type": event,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": recording.id,
            "status": recording.status.value,
            "filename": recording.filename,
            "duration_s": recording.duration_s,
            "summary": recording.summary,
            "links": {
                "recording": path,
                "transcript": f"{path}/transcript",
                "stream": f"{path}/stream",
            },
        },
    }
