"""Who may do what: API keys and their scopes. Each scope includes the ones below it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Scope(StrEnum):
    READ = "read"  # list, read, stream, follow progress, search
    UPLOAD = "upload"  # also upload, retry, transcribe (the OpenAI endpoint)
    ADMIN = "admin"  # also delete, manage keys

    def allows(self, needed: Scope) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.READ: 0, Scope.UPLOAD: 1, Scope.ADMIN: 2}


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: its secret part is kept only as a keyed hash."""

    id: str
    name: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey, key_hash: str) -> None:
        """Store a new key; Rejected(INVALID_FIELD) if its name is taken."""
        ...

    def find(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key and its hash."""
        ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, name: str, now: datetime) -> bool:
        """False if no active key has that name."""
        ...

    def touch(self, key_id: str, now: datetime) -> None:
        """Record a use (at most about once a minute per key: the caller throttles)."""
        ...

    def any(self) -> bool:
        """Whether a key was ever made (revoked and expired ones count: access stays on)."""
        ...
