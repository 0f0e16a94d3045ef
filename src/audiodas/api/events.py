"""Server-Sent Events: a recording's stage changes, until it is finished.

Reads the database (the source of truth), so it works whether the engine runs in this process
or in `audiodas worker` elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from audiodas.api.schemas import ERRORS, RecordingOut, StageOut
from audiodas.domain import Recording

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])

POLL_S = 0.25
HEARTBEAT_S = 15.0


@router.get(
    "/{recording_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 404: ERRORS[404]},
    summary="Stage progress as Server-Sent Events (`stage`, `status`, then `done`)",
)
async def events(request: Request, recording_id: str) -> StreamingResponse:
    service = request.app.state.service
    first = await to_thread.run_sync(service.get, recording_id)  # 404 before the stream starts
    return StreamingResponse(
        _stream(request, service, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(request: Request, service, recording: Recording) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    yield _event("snapshot", RecordingOut.of(recording).model_dump(mode="json"))
    stages = {name: _stage_key(s) for name, s in recording.stages.items()}
    status = recording.status
    quiet = 0.0
    while not recording.status.finished:
        await asyncio.sleep(POLL_S)
        if await request.is_disconnected():
            return
        current = await to_thread.run_sync(service.repository.get, recording.id)
        if current is None:
            yield _event("deleted", {"id": recording.id})
            return
        recording = current
        for name, stage in recording.stages.items():
            if _stage_key(stage) != stages[name]:
                stages[name] = _stage_key(stage)
                yield _event("stage", StageOut.of(stage).model_dump(mode="json"))
                quiet = 0.0
        if recording.status != status:
            status = recording.status
            yield _event("status", {"id": recording.id, "status": status})
        quiet += POLL_S
        if quiet >= HEARTBEAT_S:
            quiet = 0.0
            yield ": keep-alive\n\n"
    yield _event("done", RecordingOut.of(recording).model_dump(mode="json"))


def _stage_key(stage) -> tuple:  # type: ignore[no-untyped-def]
    return (stage.status, stage.started_at, stage.finished_at, stage.error)


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
