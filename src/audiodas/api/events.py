"""Server-Sent Events: a recording's stage changes, pushed as the engine makes them, until it
is finished (`snapshot`, then `stage` / `status` events, then `done`).

A finished recording's stream is known at once (snapshot, done) and is sent as one body; only a
recording still in progress gets a live stream, which follows the events the engine publishes
and re-reads the database only every RESYNC_S (an event the bus dropped; also a keep-alive).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.responses import Response

from audiodas.api import dependencies
from audiodas.api.access import Authorized
from audiodas.api.progress import Following
from audiodas.api.schemas import ERRORS
from audiodas.api.views import RecordingViews
from audiodas.domain import RecordingStatus, Rejected
from audiodas.services import RecordingService
from audiodas.services.ports import STAGE, TRANSCRIPT

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"], route_class=Authorized)

RESYNC_S = 10.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/{recording_id}/events",
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}}, 404: ERRORS[404]},
    summary="Stage progress as Server-Sent Events (`snapshot`, `stage`, `status`, then `done`;"
    " `transcript`: each window of the transcription, its segments, as soon as it is made)",
)
async def events(recording_id: str, request: Request) -> Response:
    views = dependencies.views(request)
    progress = dependencies.progress(request)
    following = progress.follow(recording_id)  # before the snapshot: no change falls between
    try:
        snapshot = await views.one(recording_id)  # 404 before the stream starts
    except Rejected:
        following.close()
        raise
    if RecordingStatus(snapshot["status"]).finished:
        following.close()
        body = _event("snapshot", snapshot) + _event("done", snapshot)
        return Response(body, media_type="text/event-stream", headers=_HEADERS)
    service = dependencies.service(request)
    return EventSourceResponse(_follow(snapshot, following, views, service), headers=_HEADERS)


async def _follow(
    snapshot: dict, following: Following, views: RecordingViews, service: RecordingService
) -> AsyncIterator[bytes]:
    recording_id = snapshot["id"]
    try:
        yield _event("snapshot", snapshot)
        seen = {stage["name"]: _key(stage) for stage in snapshot["stages"]}
        status = RecordingStatus(snapshot["status"])
        while not status.finished:
            try:
                changes = [await asyncio.wait_for(following.queue.get(), RESYNC_S)]
            except TimeoutError:
                yield b": keep-alive\n\n"
                try:
                    current = await views.one(recording_id)
                except Rejected:
                    yield _event("deleted", {"id": recording_id})
                    return
                stages = [{"type": STAGE, "stage": stage} for stage in current["stages"]]
                changes = [*stages, {"type": "status", "status": current["status"]}]
            for change in changes:
                if change["type"] == STAGE:
                    stage = change["stage"]
                    if _key(stage) != seen[stage["name"]]:
                        seen[stage["name"]] = _key(stage)
                        yield _event("stage", stage)
                elif change["type"] == TRANSCRIPT:
                    try:
                        yield _event("transcript", await _window(service, change))
                    except Rejected:
                        yield _event("deleted", {"id": recording_id})
                        return
                elif change["status"] != status:
                    status = RecordingStatus(change["status"])
                    yield _event("status", {"id": recording_id, "status": status})
        yield _event("done", await views.one(recording_id))
    finally:
        following.close()


async def _window(service: RecordingService, change: dict) -> dict:
    """A `transcript` event: the window's segments, as stored (one read per window)."""
    found = await to_thread.run_sync(lambda: service.get(change["id"], segments=True))
    segments = [asdict(s) for s in found.segments if s.start >= change["start_s"]]
    return {key: change[key] for key in ("id", "start_s", "done_s", "total_s")} | {
        "segments": segments
    }


def _key(stage: dict) -> tuple:
    return (stage["status"], stage["started_at"], stage["finished_at"], stage["error"])


def _event(name: str, data: object) -> bytes:
    return format_sse_event(
        event=name, data_str=orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()
    )
