"""Server-Sent Events: a recording's stage changes, pushed as the engine makes them, until it
is finished (snapshot, then `stage` / `status` events, then `done`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from audiodas.api.dependencies import ProgressDep, ServiceDep
from audiodas.api.schemas import ERRORS, recording_body
from audiodas.domain import Recording
from audiodas.services.ports import STAGE

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])

# Events arrive pushed; this slow re-read only catches one the bus dropped.
RESYNC_S = 10.0


async def existing_recording(recording_id: str, service: ServiceDep) -> Recording:
    """404 before the stream starts."""
    return service.get(recording_id)


@router.get(
    "/{recording_id}/events",
    response_class=EventSourceResponse,
    responses={404: ERRORS[404]},
    summary="Stage progress as Server-Sent Events (`snapshot`, `stage`, `status`, then `done`)",
)
async def events(
    recording: Annotated[Recording, Depends(existing_recording)],
    service: ServiceDep,
    progress: ProgressDep,
) -> AsyncIterable[ServerSentEvent]:
    with progress.follow(recording.id) as pushed:
        yield _event("snapshot", recording_body(recording))
        seen = {name: _key(stage.as_dict()) for name, stage in recording.stages.items()}
        status = recording.status
        while not status.finished:
            try:
                changes = [await asyncio.wait_for(pushed.get(), RESYNC_S)]
            except TimeoutError:
                current = service.repository.get(recording.id, segments=False)
                if current is None:
                    yield _event("deleted", {"id": recording.id})
                    return
                changes = _as_events(current)
            for change in changes:
                if change["type"] == STAGE:
                    stage = change["stage"]
                    if _key(stage) != seen[stage["name"]]:
                        seen[stage["name"]] = _key(stage)
                        yield _event("stage", stage)
                elif change["status"] != status:
                    status = type(status)(change["status"])
                    yield _event("status", {"id": recording.id, "status": status})
        final = service.repository.get(recording.id, segments=False)
        yield _event("done", recording_body(final or recording))


def _as_events(recording: Recording) -> list[dict]:
    stages = [{"type": STAGE, "stage": s.as_dict()} for s in recording.stages.values()]
    return [*stages, {"type": "status", "status": recording.status.value}]


def _key(stage: dict) -> tuple:
    return (stage["status"], stage["started_at"], stage["finished_at"], stage["error"])


def _event(name: str, data: object) -> ServerSentEvent:
    return ServerSentEvent(
        event=name, raw_data=orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()
    )
