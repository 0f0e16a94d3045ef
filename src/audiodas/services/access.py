"""Who may do what: API keys (made, listed, revoked, checked), signed links and the web app's
sessions.

Checks are answered from a small in-process cache for `access_cache_s`, so a request costs a
dictionary lookup; a key made or revoked on another node takes effect here within that time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from audiodas.config import Settings
from audiodas.domain import ApiKey, ApiKeyRepository, Rejected, Scope, quoted
from audiodas.domain.audit import LOCAL, Action, AuditEntry
from audiodas.services import signing
from audiodas.services.ports import AuditLog

_CACHED_KEYS = 10_000  # checks remembered, right or wrong; past that the cache starts over
_TOUCH_EVERY_S = 60.0  # a key's last use is written at most this often
_LINK_PARAMS = ("expires", "sig")
KEY_PARAM = "kid"  # the id of the key a link was made for (signed with the rest of it)


class KeyCheck(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"  # not a key of this deployment, or revoked
    EXPIRED = "expired"


class LinkCheck(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    REVOKED = "revoked"  # made for a key since revoked or expired


@dataclass(frozen=True)
class Grant:
    """What links made for a request may carry: the key its caller used (a link made for it
    stops working when that key does) and the latest expiry they may have (the link the
    caller came by, if it came by one: a link never mints one that outlives it)."""

    key_id: str | None = None
    until: int | None = None


OPEN = Grant()  # keys not required, or none used


@dataclass(frozen=True)
class Session:
    """A browser signed in: with which key, until when (Unix time)."""

    key: ApiKey
    expires: int


class Guesses:
    """Failed key attempts by client address. Past `free` failures within WINDOW_S an address
    waits before any key it sends is checked again: 1 s, doubling with each failure after, at
    most MAX_WAIT_S. A valid key from another address is never delayed, and one from this
    address once the wait is over; the cost is a dictionary lookup a request. Counted per
    process (each HTTP process keeps its own: a guesser gets `free` per process)."""

    WINDOW_S = 60.0
    MAX_WAIT_S = 60.0
    _ADDRESSES = 10_000  # kept at most; past that the count starts over

    def __init__(self, free: int, clock: Callable[[], float]) -> None:
        self.free = free
        self._clock = clock
        self._failures: dict[str, tuple[float, int, float]] = {}  # first, count, wait until

    def wait_s(self, address: str) -> float:
        found = self._failures.get(address)
        return max(0.0, found[2] - self._clock()) if found else 0.0

    def failed(self, address: str) -> int:
        """Counts one failure; returns how many this address has in its window."""
        now = self._clock()
        first, count, _ = self._failures.get(address, (now, 0, 0.0))
        if now - first > self.WINDOW_S:
            first, count = now, 0
        count += 1
        over = count - self.free
        until = now + min(self.MAX_WAIT_S, 2.0 ** (over - 1)) if over > 0 else 0.0
        if len(self._failures) >= self._ADDRESSES:
            self._failures.clear()
        self._failures[address] = (first, count, until)
        return count


class AccessControl:
    def __init__(
        self,
        settings: Settings,
        keys: ApiKeyRepository,
        secret: bytes,
        clock: Callable[[], float] = time.time,
        *,
        audit: AuditLog | None = None,
    ) -> None:
        """`audit`: where keys made and revoked, and keys refused, are recorded."""
        self.settings = settings
        self.repository = keys
        self.audit = audit
        self._secret = secret
        self._clock = clock
        self._checked: dict[str, tuple[float, ApiKey | None]] = {}
        self._touched: dict[str, float] = {}
        self._active_ids: dict[str, tuple[float, ApiKey | None]] = {}
        self.guesses = Guesses(settings.key_failures_allowed, clock)
        self._required: tuple[float, bool] = (-math.inf, False)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- Keys --------------------------------------------------------------------------------

    def create(
        self, scope: Scope, name: str, expires_days: float | None = None, by: str = LOCAL
    ) -> tuple[ApiKey, str]:
        """A new key and its text, which is shown once: only its keyed hash is stored."""
        key_id, text = signing.new_key()
        now = self._now()
        expires = now + timedelta(days=expires_days) if expires_days else None
        key = ApiKey(key_id, name or key_id, scope, now, expires)
        self.repository.add(key, signing.key_hash(text, self._secret))
        self._forget()
        self._record(by, Action.KEY_CREATED, {"name": key.name, "id": key.id,
                                              "scope": str(scope)})  # fmt: skip
        return key, text

    def keys(self) -> list[ApiKey]:
        return self.repository.all()

    def revoke(self, name: str, by: str = LOCAL) -> None:
        if not self.repository.revoke(name, self._now()):
            raise Rejected(Rejected.NOT_FOUND, f"no active API key named {quoted(name)}")
        self._forget()
        self._record(by, Action.KEY_REVOKED, {"name": name})

    def refused(self, address: str, why: str, key_id: str | None) -> None:
        """A key was refused (unknown, revoked, expired): who tried, for the audit trail."""
        self._record(LOCAL, Action.SIGN_IN_REFUSED, {"address": address, "why": why,
                                                     "key_id": key_id})  # fmt: skip

    def _record(self, by: str, action: Action, detail: dict) -> None:
        if self.audit is not None:
            self.audit.append(AuditEntry(self._now(), by, action, None, detail))

    def required(self) -> bool:
        """Keys are needed: always when `auth=required`, else once a key was ever made."""
        if self.settings.auth == "required":
            return True
        checked_at, required = self._required
        now = self._clock()
        if now - checked_at >= self.settings.access_cache_s:
            required = self.repository.any()
            self._required = (now, required)
        return required

    def authenticate(self, text: str) -> tuple[KeyCheck, ApiKey | None]:
        """Whether `text` is a valid key of this deployment, and which."""
        digest = signing.key_hash(text, self._secret)
        now = self._clock()
        cached = self._checked.get(digest)
        if cached is not None and now - cached[0] < self.settings.access_cache_s:
            key = cached[1]
        else:
            key = None
            key_id = signing.key_id(text)
            found = self.repository.find(key_id) if key_id else None
            if found is not None and signing.same(found[1], digest):
                key = found[0]
            if len(self._checked) >= _CACHED_KEYS:
                self._checked.clear()
            self._checked[digest] = (now, key)
        if key is None or key.revoked_at is not None:
            return KeyCheck.UNKNOWN, None
        if key.expired(self._now()):
            return KeyCheck.EXPIRED, key
        if now - self._touched.get(key.id, -math.inf) >= _TOUCH_EVERY_S:
            self._touched[key.id] = now
            self.repository.touch(key.id, self._now())
        return KeyCheck.VALID, key

    def _forget(self) -> None:
        self._checked.clear()
        self._active_ids.clear()
        self._required = (-math.inf, False)

    # --- Signed links ------------------------------------------------------------------------

    def link_expiry(self, grant: Grant = OPEN) -> int:
        """When a link made now expires: `link_ttl_s` from now, rounded up to a step (a tenth of
        it, at most a minute), so links made close together are the same (cacheable); never
        later than the grant allows."""
        ttl = self.settings.link_ttl_s
        step = min(60, max(1, int(ttl // 10)))
        expires = math.ceil((self._clock() + ttl) / step) * step
        return expires if grant.until is None else min(expires, grant.until)

    def sign(self, path: str, expires: int, grant: Grant = OPEN, **params: str) -> str:
        """`path` with `params`, usable without a key until `expires` and, if the grant names a
        key, while that key is valid."""
        if grant.key_id is not None:
            params[KEY_PARAM] = grant.key_id
        query = sorted(params.items())
        signature = signing.link_signature(_canonical(path, query), expires, self._secret)
        return f"{path}?{urlencode([*query, ('expires', expires), ('sig', signature)])}"

    def check_link(self, path: str, params: Iterable[tuple[str, str]]) -> tuple[LinkCheck, Grant]:
        """Whether `path` with its query is a link this deployment signed, still valid; and what
        links made for a request that came by it may carry."""
        params = list(params)
        found = dict(params)
        try:
            expires = int(found.get("expires", ""))
        except ValueError:
            return LinkCheck.INVALID, OPEN
        query = sorted((k, v) for k, v in params if k not in _LINK_PARAMS)
        expected = signing.link_signature(_canonical(path, query), expires, self._secret)
        if not signing.same(expected, found.get("sig", "")):
            return LinkCheck.INVALID, OPEN
        if self._clock() > expires:
            return LinkCheck.EXPIRED, OPEN
        key_id = found.get(KEY_PARAM)
        if key_id is not None and self._active(key_id) is None:
            return LinkCheck.REVOKED, OPEN
        return LinkCheck.VALID, Grant(key_id, expires)

    def holder(self, grant: Grant) -> str:
        """Whom a signed link speaks for, for the audit trail: the name of the key it was made
        with (just checked, so cached), or "local" for a link of a server without keys."""
        key = self._active(grant.key_id) if grant.key_id is not None else None
        return key.name if key is not None else LOCAL

    def _active(self, key_id: str) -> ApiKey | None:
        """The key of this id if it is neither revoked nor expired (cached as key checks are)."""
        now = self._clock()
        cached = self._active_ids.get(key_id)
        if cached is None or now - cached[0] >= self.settings.access_cache_s:
            found = self.repository.find(key_id)
            key = found[0] if found else None
            if key is not None and (key.revoked_at is not None or key.expired(self._now())):
                key = None
            if len(self._active_ids) >= _CACHED_KEYS:
                self._active_ids.clear()
            cached = self._active_ids[key_id] = (now, key)
        return cached[1]

    # --- Browser sessions --------------------------------------------------------------------

    def open_session(self, key: ApiKey) -> tuple[str, Session]:
        """A session token for `key`, and the session: it expires: `session_hours` from now, never past
        the key's own expiry. It names the key and is signed, so nothing is stored: revoking
        the key ends its sessions, on every node within `access_cache_s`."""
        expires = math.floor(self._clock() + self.settings.session_hours * 3600)
        if key.expires_at is not None:
            expires = min(expires, math.floor(key.expires_at.timestamp()))
        signature = signing.session_signature(key.id, expires, self._secret)
        return f"{key.id}.{expires}.{signature}", Session(key, expires)

    def check_session(self, token: str) -> tuple[KeyCheck, Session | None]:
        """The key a session token was opened with, if the token is this deployment's, not
        expired, and its key still valid."""
        key_id, _, rest = token.partition(".")
        expires_text, _, signature = rest.partition(".")
        if not expires_text.isdigit() or not signing.same(
            signing.session_signature(key_id, int(expires_text), self._secret), signature
        ):
            return KeyCheck.UNKNOWN, None
        if self._clock() > int(expires_text):
            return KeyCheck.EXPIRED, None
        key = self._active(key_id)
        if key is None:
            return KeyCheck.UNKNOWN, None
        return KeyCheck.VALID, Session(key, int(expires_text))


def _canonical(path: str, query: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(query)}"
