"""Keyed hashes with the deployment's secret: API keys stored as hashes, and short-lived signed
links (an <audio> element or an EventSource cannot send an Authorization header), browser
sessions (a key exchanged for a cookie the page's scripts cannot read); and webhooks,
signed with a secret of their own, which receivers hold.

A key reads `adk_<id>_<secret>`: the id finds the row, the secret is compared by its HMAC.
Keys are random (160 bits), so a keyed SHA-256 is as strong as a slow password hash (which
guards guessable secrets) and costs microseconds per request. A link's signature covers its
path, its query (the variant) and its expiry time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "adk"


def new_key() -> tuple[str, str]:
    """A new key's id and the whole key (shown once, never stored)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(20)}"


def key_id(key: str) -> str | None:
    """The id part of a key, or None if it is not shaped like one."""
    prefix, _, rest = key.partition("_")
    found, _, secret = rest.partition("_")
    return found if prefix == KEY_PREFIX and found and secret else None


def key_hash(key: str, secret: bytes) -> str:
    return hmac.new(secret, b"key:" + key.encode(), hashlib.sha256).hexdigest()


def link_signature(path: str, expires: int, secret: bytes) -> str:
    """The signature of `path` (with its query) valid until `expires` (Unix time)."""
    message = f"link:{expires}:{path}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def session_signature(key_id: str, expires: int, secret: bytes) -> str:
    """The signature of a browser session opened with the key `key_id`, valid until `expires`."""
    message = f"session:{expires}:{key_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def webhook_signature(body: bytes, timestamp: int, secret: bytes) -> str:
    """`t=<unix time>,v1=<hex>`: the HMAC-SHA256 of "<t>." + body. A receiver recomputes it
    and refuses an old timestamp (a replayed delivery)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def same(a: str, b: str) -> bool:
    """Equal, in a time that does not tell how much of them matched."""
    return hmac.compare_digest(a.encode(), b.encode())
