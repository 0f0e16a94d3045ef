"""Protections for a server that browsers reach: other web pages must not drive it.

- `Host` must be a name the server answers to: a page on an attacker's name that resolves to
  this server (DNS rebinding) gets 400 before anything is read.
- A request that changes something (POST, DELETE...) from a page of another origin gets 403,
  unless `AUDIODAS_CORS_ORIGINS` lists that origin: browsers send a multipart POST across
  origins without asking first, so CORS alone would not stop it. Requests with neither
  `Origin` nor `Sec-Fetch-Site` (curl, SDKs, ffmpeg) are not a browser's and pass.
- Every answer says how browsers may use it: no sniffing, no referrer, no framing; the web
  app's pages also get a Content Security Policy that fits its scripts, worker and WebAssembly.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.types import Scope

from audiodas.api import refusals
from audiodas.config import Settings
from audiodas.domain import Rejected, quoted

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_ALL_INTERFACES = ("0.0.0.0", "::", "")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

APP_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",  # the browser model runs in WebAssembly
        "worker-src 'self' blob:",  # ONNX Runtime Web may start its own worker from a blob
        "connect-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_EVERY_ANSWER = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_APP_ANSWER = [*_EVERY_ANSWER, (b"content-security-policy", APP_CSP.encode())]


class BrowserGuard:
    """The rules, for api/edge.py to apply to every request before anything else."""

    def __init__(self, settings: Settings) -> None:
        self.hosts = {h.lower().strip("[]") for h in settings.allowed_hosts} or {
            settings.host.lower().strip("[]"),
            *LOCAL_NAMES,
        }
        # Bound to every interface with no list given: any IP address is a name it answers to
        # (rebinding needs a DNS name; a page on an IP address is this server's own).
        self.any_address = not settings.allowed_hosts and settings.host in _ALL_INTERFACES
        self.origins = set(settings.cors_origins)

    def headers(self, path: str) -> list[tuple[bytes, bytes]]:
        """What every answer adds: how browsers may use it."""
        return _APP_ANSWER if _is_app_page(path) else _EVERY_ANSWER

    def refusal(self, scope: Scope) -> Rejected | None:
        """Why a browser's request must not reach the application, if it must not."""
        hosts = 0
        host = origin = fetch_site = None
        for name, value in scope["headers"]:
            if name == b"host":
                hosts += 1
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"sec-fetch-site":
                fetch_site = value
        text = (host or b"").decode("latin-1")
        if hosts > 1:
            # Which one a check reads and which one a redirect or link uses must never differ.
            return Rejected(refusals.HOST_NOT_ALLOWED, "a request has one Host header")
        if not self.host_allowed(text):
            return Rejected(
                refusals.HOST_NOT_ALLOWED,
                f"this server does not answer to the host {quoted(text)} "
                "(AUDIODAS_ALLOWED_HOSTS lists the names it answers to)",
            )
        # A WebSocket (no method) is a write: browsers open one from any page.
        if scope.get("method", "WEBSOCKET") not in _SAFE_METHODS and not self.origin_allowed(
            origin, fetch_site, text
        ):
            return Rejected(
                refusals.ORIGIN_NOT_ALLOWED,
                "a page of another origin may not change anything here "
                "(AUDIODAS_CORS_ORIGINS lists the origins that may)",
            )
        return None

    def host_allowed(self, host: str) -> bool:
        if not host:  # browsers always send one; an HTTP/1.0 probe may not
            return True
        name = _without_port(host.lower())
        if self.any_address and _is_address(name):
            return True
        return any(
            pattern == "*"
            or name == pattern
            or (pattern.startswith("*.") and name.endswith(pattern[1:]))
            for pattern in self.hosts
        )

    def origin_allowed(self, origin: bytes | None, fetch_site: bytes | None, host: str) -> bool:
        """The server's own origin, a listed one, or not a browser's request at all."""
        if origin is None:
            # Browsers that omit Origin still say where the request comes from.
            return fetch_site != b"cross-site"
        text = origin.decode("latin-1")
        if text in self.origins or "*" in self.origins:
            return True
        return text != "null" and urlsplit(text).netloc.lower() == host.lower()


def _is_app_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


def _without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1:].partition("]")[0]
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() and ":" not in name else host


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
