"""Ports the application owns beside the repository: how work reaches an engine, and how
progress reaches the API. Adapters implement them; `runtime.py` picks the implementations.

Delivery is at least once: a claimed recording whose engine dies is claimed again once its
lease runs out, and its stages, being idempotent, leave one set of results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Claim:
    """A recording an engine has taken, until it completes, fails or its lease runs out."""

    recording_id: str
    worker: str


class WorkQueue(Protocol):
    def enqueue(self, recording_id: str) -> None:
        """Make the recording's unfinished work claimable and wake an engine. Called after the
        recording is stored (for SQL the stored row is itself the job)."""
        ...

    def claim(self, worker: str, lease_s: float) -> Claim | None:
        """The oldest unclaimed work, now held by `worker` for `lease_s` seconds; None if none."""
        ...

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        """Renew the lease; False if the claim was lost (it ran out and another engine took it)."""
        ...

    def complete(self, claim: Claim) -> None: ...

    def fail(self, claim: Claim, retry_in_s: float) -> None:
        """Give the work back, claimable again after `retry_in_s` seconds."""
        ...

    async def wait(self, timeout: float) -> None:
        """Return when work may have arrived, or after `timeout` seconds."""
        ...


# Event types on the bus.
WORK = "work"  # new work was enqueued
STAGE = "stage"  # {"id", "stage": Stage.as_dict()}
STATUS = "status"  # {"id", "status"}


class EventBus(Protocol):
    """Small events between the processes of a deployment. Best effort: a listener that misses
    one catches up from the database (the source of truth) on its next slow re-read."""

    def publish(self, event: dict) -> None:
        """Never blocks; callable from any thread."""
        ...

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        """Call `listener` on this process's event loop for each event; returns the unsubscribe."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
