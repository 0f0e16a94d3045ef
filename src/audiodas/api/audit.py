"""The audit trail, read (`admin`): newest first, a page at a time, by recording and action."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from audiodas.api import dependencies
from audiodas.api.access import Authorized
from audiodas.api.schemas import AuditPage, ErrorOut, JSONBody
from audiodas.domain import Rejected
from audiodas.domain.audit import Action

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=Authorized)


@router.get(
    "",
    response_model=AuditPage,
    responses={400: {"model": ErrorOut}},
    summary="The audit trail, newest first: who did what to which recording, each entry "
    "chained to the one before by its hash (`audiodas audit verify` checks the chain)",
)
async def audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    recording_id: str | None = None,
    action: Action | None = None,
) -> JSONBody:
    log = dependencies.runtime(request).audit
    if cursor is not None and not (cursor.isdigit() and len(cursor) < 19):
        raise Rejected(Rejected.BAD_CURSOR, "the cursor is a next_cursor this list gave")
    before = int(cursor) if cursor is not None else None
    entries = await to_thread.run_sync(
        lambda: log.page(limit=limit + 1, before=before, recording_id=recording_id, action=action)
    )
    more = len(entries) > limit
    entries = entries[:limit]
    return JSONBody(
        {
            "items": [e.as_dict() for e in entries],
            "next_cursor": str(entries[-1].seq) if more else None,
        }
    )
