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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiodas.api import refusals
from audiodas.api.errors import rejected_response
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
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in settings.allowed_hosts} or {
            settings.host.lower().strip("[]"),
            *LOCAL_NAMES,
        }
        # Bound to every interface with no list given: any IP address is a name it answers to
        # (rebinding needs a DNS name; a page on an IP address is this server's own).
        self.any_address = not settings.allowed_hosts and settings.host in _ALL_INTERFACES
        self.origins = set(settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k: v for k, v in scope["headers"] if k in _READ}
        host = headers.get(b"host", b"").decode("latin-1")
        extra = _APP_ANSWER if _is_app_page(scope["path"]) else _EVERY_ANSWER

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        refusal = None
        if sum(1 for name, _ in scope["headers"] if name == b"host") > 1:
            # Which one a check reads and which one a redirect or link uses must never differ.
            refusal = Rejected(refusals.HOST_NOT_ALLOWED, "a request has one Host header")
        elif not self.host_allowed(host):
            refusal = Rejected(
                refusals.HOST_NOT_ALLOWED,
                f"this server does not answer to the host {quoted(host)} "
                "(AUDIODAS_ALLOWED_HOSTS lists the names it answers to)",
            )
        elif scope["method"] not in _SAFE_METHODS and not self.origin_allowed(
            headers.get(b"origin"), headers.get(b"sec-fetch-site"), host
        ):
            refusal = Rejected(
                refusals.ORIGIN_NOT_ALLOWED,
                "a page of another origin may not change anything here "
                "(AUDIODAS_CORS_ORIGINS lists the origins that may)",
            )
        if refusal is not None:
            return await rejected_response(refusal)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)

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


_READ = (b"host", b"origin", b"sec-fetch-site")


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
