"""The audit trail: who (a key's name, or "local" for the command line and an open server) did
what to which recording, and when; append-only, each entry carrying the hash of the one before
it, so an entry changed or taken out of the table is found (`first_break`).

An entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in one
canonical JSON text (its `detail` as stored: canonical JSON too). The first entry follows
GENESIS. Sequence numbers run from 1 without gaps; the chain's head (the last number and hash)
is kept apart, so entries cut from the end are found as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

GENESIS = "0" * 64
LOCAL = "local"  # the actor without a key: the command line, a server without keys


class Action(StrEnum):
    UPLOAD = "upload"
    DELETE = "delete"  # its detail is the deletion receipt
    HOLD = "hold"
    RELEASE = "release"
    RETENTION = "retention"
    ORIGINAL_REMOVED = "original_removed"  # its own retention ran out; detail: the file
    TITLE = "title"
    TRANSCRIPT = "transcript"
    SPEAKERS = "speakers"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    SIGN_IN_REFUSED = "sign_in_refused"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: Action
    recording_id: str | None = None
    detail: dict = field(default_factory=dict)
    # Given by the log when appended:
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": str(self.action),
            "recording_id": self.recording_id,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical(detail: dict) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    recording_id: str | None,
    detail_text: str,
) -> str:
    fields = [seq, at.isoformat(timespec="microseconds"), actor, action, recording_id, detail_text]
    text = prev_hash + json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the table holds it (its detail as the stored text, which is what is hashed)."""

    seq: int
    at: datetime
    actor: str
    action: str
    recording_id: str | None
    detail_text: str
    prev_hash: str
    hash: str


def first_break(entries: Iterable[StoredEntry], head: tuple[int, str]) -> tuple[int, str] | None:
    """The first entry that is not as it was appended, and why; None for an intact chain.
    `entries` in order; `head`: the last sequence number and hash appended."""
    previous, expected = GENESIS, 1
    for entry in entries:
        if entry.seq != expected:
            return expected, f"entry {expected} is missing (the next one found is {entry.seq})"
        if entry.prev_hash != previous:
            return entry.seq, "it does not follow the entry before it (an entry was replaced)"
        again = entry_hash(
            entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
            entry.recording_id, entry.detail_text,
        )  # fmt: skip
        if again != entry.hash:
            return entry.seq, "its contents were changed after it was written"
        previous, expected = entry.hash, expected + 1
    last_seq, last_hash = head
    if expected - 1 != last_seq:
        return expected, f"entries {expected} to {last_seq} are missing from the end"
    if previous != last_hash:
        return last_seq, "the last entry is not the one appended last"
    return None
