"""Who may call what: one rule per route, checked by the class every API route has (Authorized).

A route without a rule stops the app from starting, so no route is left open by oversight.
Keys are checked while access is required (`AUDIODAS_AUTH=required`, or once a key was made).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.requests import HTTPConnection

from audiodas.api import refusals
from audiodas.api.errors import documented
from audiodas.domain import ApiKey, Rejected, Scope
from audiodas.domain.audit import LOCAL
from audiodas.services.access import OPEN, AccessControl, Grant, KeyCheck, LinkCheck
from audiodas.services.signing import key_id

log = logging.getLogger("audiodas.access")

PUBLIC = None  # the web app's shell and health (the static files and the docs are not API routes)

# "METHOD path": the least scope that may call it.
RULES: dict[str, Scope | None] = {
    "GET /api/v1/recordings": Scope.READ,
    "GET /api/v1/recordings/{recording_id}": Scope.READ,
    "GET /api/v1/recordings/{recording_id}/stream": Scope.READ,
    "HEAD /api/v1/recordings/{recording_id}/stream": Scope.READ,
    "GET /api/v1/recordings/{recording_id}/events": Scope.READ,
    "GET /api/v1/recordings/{recording_id}/transcript": Scope.READ,
    "HEAD /api/v1/recordings/{recording_id}/transcript": Scope.READ,
    "GET /api/v1/recordings/{recording_id}/waveform": Scope.READ,
    "GET /api/v1/domains": Scope.READ,
    "GET /metrics": Scope.READ,  # or public: AUDIODAS_METRICS_PUBLIC
    "POST /api/v1/recordings": Scope.UPLOAD,
    "POST /api/v1/recordings/{recording_id}/retry": Scope.UPLOAD,
    "PUT /api/v1/recordings/{recording_id}/speakers": Scope.UPLOAD,
    "PATCH /api/v1/recordings/{recording_id}": Scope.UPLOAD,
    "PATCH /api/v1/recordings/{recording_id}/transcript": Scope.UPLOAD,
    # Those who send recordings in are the ones who wire their systems to the webhooks.
    "GET /api/v1/recordings/{recording_id}/deliveries": Scope.UPLOAD,
    "POST /api/v1/recordings/{recording_id}/deliveries/{delivery_id}/resend": Scope.UPLOAD,
    "POST /v1/audio/transcriptions": Scope.UPLOAD,
    "POST /v1/audio/translations": Scope.UPLOAD,
    "GET /v1/models": Scope.READ,
    "GET /v1/models/{model_id}": Scope.READ,
    "DELETE /api/v1/recordings/{recording_id}": Scope.ADMIN,
    # Legal holds and the audit trail (domain/audit.py): records to defend, admin's alone.
    "PUT /api/v1/recordings/{recording_id}/hold": Scope.ADMIN,
    "PUT /api/v1/recordings/{recording_id}/retention": Scope.ADMIN,
    "DELETE /api/v1/recordings/{recording_id}/hold": Scope.ADMIN,
    "GET /api/v1/audit": Scope.ADMIN,
    # Live transcription (api/live.py): a WebSocket, and the signed link a page may open it by.
    "WS /api/v1/live": Scope.UPLOAD,
    "GET /api/v1/live/link": Scope.UPLOAD,
    # The web app's sign-in: a key exchanged for a session cookie (api/session.py). Saying
    # whether one is signed in, and signing out, need none.
    "POST /api/v1/session": Scope.READ,
    "GET /api/v1/session": PUBLIC,
    "DELETE /api/v1/session": PUBLIC,
    "GET /": PUBLIC,
    "GET /healthz": PUBLIC,
}
# What an <audio> element or an EventSource reads: they cannot send a key, so a link the API
# signed (in the recording's JSON) stands in for one, for that one resource.
LINKED = {
    "GET /api/v1/recordings/{recording_id}/stream",
    "HEAD /api/v1/recordings/{recording_id}/stream",
    "GET /api/v1/recordings/{recording_id}/events",
    "WS /api/v1/live",  # a page of another origin cannot send a key on a WebSocket either
}

# Where only a key will do: a session is opened with a key, never renewed by itself (so it ends
# `session_hours` after a sign-in, however busy).
KEY_ONLY = {"POST /api/v1/session"}
# The web app's session (api/session.py): HttpOnly, so no script of a page can read or send it on.
SESSION_COOKIE = "audiodas_session"

SCHEME = "API key"
_SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "`Authorization: Bearer <key>`; make one with `audiodas keys create`.",
}


class Authorized(APIRoute):
    """A route whose requests are authorized before anything else of it runs (its parameters,
    its body). Done here, once per request, rather than as a dependency: FastAPI solves a
    dependency graph on every request, and that was a fifth of the CPU of reading a recording
    (py-spy)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authorized(request: Request) -> Response:
            await authorize(request)
            return await handler(request)

        return authorized


async def authorize(request: Request) -> None:
    """Decides access, before any body is read; leaves in `request.state.grant` what the links
    made for this request may carry (services/access.py's Grant), and in `request.state.key`
    the key it came with, by header or session (None when open or by a signed link)."""
    await authorize_connection(request, f"{request.method} {request.scope['route'].path}")


async def authorize_connection(request: HTTPConnection, rule: str) -> None:
    """`authorize` for a connection whose rule its route names (a WebSocket's "WS path")."""
    need = RULES[rule]
    access: AccessControl = request.app.state.runtime.access
    request.state.grant, request.state.key = OPEN, None
    if need is PUBLIC or not access.required():
        return
    if rule == "GET /metrics" and access.settings.metrics_public:
        return
    if rule in LINKED and "sig" in request.query_params:
        check, grant = access.check_link(request.url.path, request.query_params.multi_items())
        if check is LinkCheck.VALID:
            request.state.grant = grant
            return
        why = "the key it was made for is revoked" if check is LinkCheck.REVOKED else check.value
        raise Rejected(
            Rejected.LINK_EXPIRED if check is LinkCheck.EXPIRED else Rejected.LINK_INVALID,
            f"this signed link is {why}: read the recording again for a fresh one",
        )
    credentials = _bearer(request.headers.get("authorization"))
    if credentials is None and rule not in KEY_ONLY and (token := session_token(request)):
        _, session = access.check_session(token)
        if session is None:
            raise Rejected(
                Rejected.INVALID_KEY,
                "your sign-in has ended (it expired, or its key was revoked): sign in again",
            )
        _allow(request, session.key, need)
        return
    if credentials is None:
        raise Rejected(
            Rejected.UNAUTHENTICATED,
            "this server needs an API key: send `Authorization: Bearer <key>`",
        )
    address = request.client.host if request.client else "unknown"
    if wait := access.guesses.wait_s(address):
        raise Rejected(
            refusals.TOO_MANY_ATTEMPTS,
            "too many wrong API keys from this address: wait before trying again",
            retry_after_s=math.ceil(wait),
        )
    check, key = access.authenticate(credentials)  # never echoed: it may be real
    if check is not KeyCheck.VALID:
        failures = access.guesses.failed(address)
        # The key's id only (its secret is never logged): which key was tried, or none at all.
        log.warning("API key refused from %s (%s, id %s): failure %d", address, check.value,
                    key_id(credentials) or "none", failures)  # fmt: skip
        # A database write: off the event loop, which a busy database would otherwise stall.
        await to_thread.run_sync(access.refused, address, check.value, key_id(credentials))
    if check is KeyCheck.EXPIRED:
        raise Rejected(Rejected.INVALID_KEY, "the API key has expired")
    if key is None:
        raise Rejected(Rejected.INVALID_KEY, "the API key is unknown or revoked")
    _allow(request, key, need)


def _allow(request: HTTPConnection, key: ApiKey, need: Scope) -> None:
    if not key.scope.allows(need):
        raise Rejected(
            Rejected.FORBIDDEN,
            f"key '{key.name}' has scope '{key.scope}'; this needs '{need}' or above",
        )
    request.state.grant = Grant(key.id)
    request.state.key = key


def actor(request: HTTPConnection) -> str:
    """Who makes the request, for the audit trail: its key's name (sent, signed in with, or the
    one a signed link was made with), or "local" on a server that requires no key."""
    key: ApiKey | None = getattr(request.state, "key", None)
    if key is not None:
        return key.name
    grant: Grant = getattr(request.state, "grant", OPEN)
    access: AccessControl = request.app.state.runtime.access
    return access.holder(grant) if grant.key_id is not None else LOCAL


def session_token(request: HTTPConnection) -> str | None:
    """The session cookie, when a page of this server's own origin sent the request (or no
    browser did). SameSite=Strict already keeps other sites' pages from sending it; this also
    keeps a page of another origin of the same site (a sibling subdomain) from using it."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return None
    return request.cookies.get(SESSION_COOKIE)


def _bearer(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (the scheme in any case), as
    FastAPI's HTTPBearer reads it; None for no header or another scheme."""
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def routes(app: FastAPI) -> list[str]:
    """Every API route of `app` as "METHOD path", its WebSockets as "WS path" (these check
    their rule themselves: `authorize_connection`, before they accept)."""
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            found += [f"{method} {route.path}" for method in route.methods or ()]
        elif isinstance(route.original_route, APIWebSocketRoute):
            found.append(f"WS {route.path}")
    return found


def install(app: FastAPI) -> None:
    """Check that every route of `app` has a rule and is checked against it (call once its
    routes are all added)."""
    missing = [rule for rule in routes(app) if rule not in RULES]
    if missing:
        raise RuntimeError(f"routes without an access rule (api/access.py): {missing}")
    unchecked = [
        route.path
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and not isinstance(route.original_route, Authorized)
    ]
    if unchecked:
        raise RuntimeError(f"routes not of the class access.Authorized: {unchecked}")


def document(schema: dict) -> dict:
    """The OpenAPI document as access works: no key on public routes; on others the key, and
    401, 403 and the wrong-key throttle's 429."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if RULES.get(f"{method.upper()} {path}", Scope.ADMIN) is PUBLIC:
                continue
            operation["security"] = [{SCHEME: []}]
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", documented("No key, or an unknown, expired or revoked one"))
            responses.setdefault(
                "403", documented("The key's scope is too small, or the signed link is stale")
            )
            responses.setdefault(
                "429", documented("Too many wrong keys from this address: wait Retry-After")
            )
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = _SECURITY_SCHEME
    return schema
