"""The web app's sign-in: an API key exchanged once for a session cookie, which every tab of
the browser then sends (README, "Access").

The cookie is HttpOnly (no script of a page reads it, so an injected one cannot carry it off),
SameSite=Strict (no other site's page makes the browser send it) and without Max-Age (gone when
the browser closes). Its value names the key and is signed with the deployment's secret: no
session is stored, revoking the key ends it, and it lasts at most `AUDIODAS_SESSION_HOURS`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from audiodas.api import dependencies
from audiodas.api.access import SESSION_COOKIE, Authorized, session_token
from audiodas.api.schemas import ErrorOut, JSONBody
from audiodas.domain import ApiKey
from audiodas.services.access import Session

router = APIRouter(prefix="/api/v1/session", tags=["access"], route_class=Authorized)


@router.post(
    "",
    summary="Sign this browser in: the key of `Authorization: Bearer` for an HttpOnly, "
    "SameSite=Strict session cookie",
    responses={401: {"model": ErrorOut}},
)
async def sign_in(request: Request) -> JSONBody:
    access = dependencies.runtime(request).access
    key: ApiKey | None = request.state.key
    if key is None:  # keys are not required here: nothing to sign in to
        return JSONBody(_state(access.required(), None))
    token, opened = access.open_session(key)
    answer = JSONBody(_state(True, opened))
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.get("", summary="Whether keys are needed here, and which key this browser signed in with")
async def session(request: Request) -> JSONBody:
    access = dependencies.runtime(request).access
    token = session_token(request)
    opened = access.check_session(token)[1] if token else None
    return JSONBody(_state(access.required(), opened))


@router.delete("", status_code=204, summary="Sign this browser out")
async def sign_out() -> Response:
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def _state(required: bool, opened: Session | None) -> dict:
    if opened is None:
        return {"required": required, "signed_in": False, "key": None, "expires_at": None}
    return {
        "required": required,
        "signed_in": True,
        "key": {"name": opened.key.name, "scope": str(opened.key.scope)},
        "expires_at": datetime.fromtimestamp(opened.expires, UTC).isoformat(),
    }
