"""The JSON shapes of API v1: pydantic models document them (OpenAPI), and plain functions
build the bodies (hot paths skip model validation; `tests` compare both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from audiodas.domain import Recording
from audiodas.domain.search import Match


class StageOut(BaseModel):
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    attempts: int


class VariantOut(BaseModel):
    content_type: str
    size_bytes: int
    sha256: str
    url: str
    signed_url: str = Field(
        description="The stream without a key until it expires (AUDIODAS_LINK_TTL_S): for "
        "an <audio> element, which cannot send one"
    )


class SpeakerOut(BaseModel):
    id: str = Field(description="S1, S2, ... in order of first appearance")
    name: str | None


class ProgressOut(BaseModel):
    done_s: float = Field(description="Seconds of audio transcribed so far, from the start")
    total_s: float


class HoldOut(BaseModel):
    reason: str
    since: datetime
    by: str = Field(description="The name of the key that set it, or `local`")


class RecordingItem(BaseModel):
    """A recording as listed: everything but the transcript."""

    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    status: str
    stages: list[StageOut]
    variants: dict[str, VariantOut]
    language: str | None
    summary: str | None
    domain: str | None
    topic: dict | None
    title: str | None = Field(description="Given by users (PATCH); the filename stays")
    transcript_progress: ProgressOut = Field(
        description="A long recording is transcribed window by window (a minute each), each "
        "readable at once: `transcript` holds the text so far until the transcribe stage is done"
    )
    speakers: list[SpeakerOut] = Field(
        description="The transcript's speaker labels in order of first appearance, with the "
        "names users gave them (PUT .../speakers); empty before transcription"
    )
    retention_until: datetime
    held_until: datetime | None = Field(
        description="A DELETE is refused before this time (the archive copy's legal retention);"
        " null when there is no copy to keep"
    )
    original_removed_at: datetime | None = Field(
        description="When the original upload was removed, past AUDIODAS_ORIGINAL_RETENTION_DAYS"
        " (the archive copy stays); null while it is kept"
    )
    hold: HoldOut | None = Field(
        description="A legal hold (PUT .../hold): while it stands, DELETE is refused whatever "
        "the retention says"
    )
    created_at: datetime
    updated_at: datetime
    events_url: str = Field(description="The progress stream, signed like `signed_url`")


class RecordingOut(RecordingItem):
    transcript: str | None


class MatchOut(BaseModel):
    """Where a search matched: the passage, the matched words' character offsets (end
    exclusive) and, for a transcript segment, when it is spoken."""

    field: str = Field(description="filename, summary or transcript")
    text: str
    highlights: list[tuple[int, int]]
    start_s: float | None = Field(description="the segment's start; null unless transcript")


class SearchItem(RecordingItem):
    match: MatchOut


class RecordingList(BaseModel):
    items: list[RecordingItem | SearchItem]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    """A webhook delivery: one event of the recording, for one URL (README, "Webhooks")."""

    id: str = Field(description="The event's id for this URL: the AudioDAS-Delivery header")
    event: str = Field(description="recording.done, recording.failed or recording.rejected")
    url: str = Field(description="Without its user, password and query")
    status: str = Field(description="pending, delivered or failed (given up)")
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is sent next, while pending")
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class ErrorOut(BaseModel):
    """Every error the API answers with."""

    error: str
    detail: str
    request_id: str | None = None  # on 500: the same id is in the server's log


ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 409, 413, 415, 416, 422)}


def match_body(m: Match) -> dict[str, Any]:
    return {
        "field": m.field.value,
        "text": m.text,
        "highlights": m.highlights,
        "start_s": m.start_s,
    }


def recording_body(r: Recording, *, transcript: bool = True) -> dict[str, Any]:
    """RecordingOut (or RecordingItem without the transcript) as a plain dict."""
    body = {
        "id": r.id,
        "filename": r.filename,
        "content_type": r.content_type,
        "size_bytes": r.size_bytes,
        "sha256": r.sha256,
        "duration_s": r.duration_s,
        "sample_rate": r.sample_rate,
        "channels": r.channels,
        "status": r.status.value,
        "stages": [s.as_dict() for s in r.stages.values()],
        "variants": {
            v.name.value: {
                "content_type": v.content_type,
                "size_bytes": v.size_bytes,
                "sha256": v.sha256,
                "url": f"/api/v1/recordings/{r.id}/stream?variant={v.name.value}",
            }
            for v in r.variants.values()
        },
        "language": r.language,
        "summary": r.summary,
        "domain": r.domain,
        "topic": r.topic,
        "title": r.title,
        "transcript_progress": progress_body(r),
        "speakers": speaker_list(r),
        "retention_until": r.retention_until,
        "held_until": r.held_until,
        "hold": r.hold.as_dict() if r.hold else None,
        "original_removed_at": r.original_removed_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }
    if transcript:
        body["transcript"] = r.transcript
    return body


def progress_body(recording: Recording) -> dict[str, float]:
    done_s, total_s = recording.transcript_progress()
    return {"done_s": done_s, "total_s": total_s}


def speaker_list(recording: Recording) -> list[dict]:
    """The transcript's speaker labels in order of first appearance, with their names."""
    names = recording.speaker_names
    return [{"id": s, "name": names.get(s)} for s in recording.speakers_heard]


def render_json(content: Any) -> bytes:
    """The API's JSON: orjson's, datetimes as ISO 8601 with `Z`."""
    return orjson.dumps(content, option=orjson.OPT_UTC_Z)


class JSONBody(Response):
    """A body rendered as the API's JSON."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)


class RenderedJSON(Response):
    """A body already rendered as the API's JSON (views.py keeps renderings as bytes)."""

    media_type = "application/json"


class FileRemoved(BaseModel):
    variant: str
    size_bytes: int
    sha256: str = Field(description="As stored when the file was made")


class DeletionReceipt(BaseModel):
    """What a DELETE removed, when and by whom; the audit trail keeps it (action `delete`)."""

    recording: dict
    files: list[FileRemoved]
    deleted_at: datetime
    by: str


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str = Field(description="The key's name, or `local` (the command line, no keys)")
    action: str
    recording_id: str | None
    detail: dict
    prev_hash: str = Field(description="The hash of the entry before (the chain)")
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
