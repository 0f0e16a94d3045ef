"""Ports the application owns beside the repository: where files are kept, how work reaches an
engine, and how progress reaches the API. Adapters implement them; `runtime.py` picks the
implementations.

Delivery is at least once: a claimed recording whose engine dies is claimed again once its
lease runs out, and its stages, being idempotent, leave one set of results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StagedBlob(Protocol):
    """A file being received: counted and hashed as it is written, refused past its limit."""

    path: Path
    size: int

    @property
    def sha256(self) -> str: ...

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None:
        """Finish writing (durably); the blob can then be probed and put."""
        ...

    def discard(self) -> None: ...


class BlobStore(Protocol):
    """The recordings' files, by key. A blob appears whole or not at all; the keys are the
    store's to make (`put` returns one) and are what the database keeps."""

    def stage(self, max_bytes: int) -> StagedBlob:
        """A local file to receive an upload into, private to this process until `put`."""
        ...

    def scratch(self, suffix: str) -> Path:
        """A fresh local file for a tool to write its output to (then `put`, or unlink)."""
        ...

    def put(self, source: Path, recording_id: str, name: str) -> str:
        """Move a finished local file in as the recording's `name`, atomically; its key."""
        ...

    def stat(self, key: str) -> os.stat_result:
        """Size and modification time; FileNotFoundError if there is no such blob."""
        ...

    def open_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from `start`."""
        ...

    def local_path(self, key: str) -> Path:
        """A path that tools (FFmpeg, the models, zero-copy reads) can open."""
        ...

    def delete_recording(self, recording_id: str) -> None:
        """Every blob of the recording; nothing if it has none."""
        ...


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
