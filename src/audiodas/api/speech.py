"""API v1: topics and transcripts; and the OpenAI-compatible transcription endpoint."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Annotated, Literal
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from audiodas.api import dependencies
from audiodas.api.access import Authorized, actor
from audiodas.api.body_limits import json_body
from audiodas.api.renderings import (
    FORMATS,
    Document,
    clock,
    to_docx,
    to_markdown,
    to_srt,
    to_text,
    to_vtt,
)
from audiodas.api.schemas import ErrorOut, JSONBody, progress_body, speaker_list
from audiodas.domain import Recording, Rejected, Segment, StageName, StageStatus
from audiodas.domain.corrections import parse as parse_corrections
from audiodas.domain.transcript import words_by_segment
from audiodas.services import RecordingService

router = APIRouter(tags=["speech"], route_class=Authorized)


@router.get("/api/v1/domains", summary="Topics a recording can be checked against")
async def domains(request: Request) -> dict:
    runtime = dependencies.runtime(request)
    return {"items": [asdict(t) for t in runtime.topics.values()]}


@router.get(
    "/api/v1/recordings/{recording_id}/waveform",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Peaks to draw: the loudest level (0-255) of each 1/peaks_per_s second, at most "
    "4,000 whatever the length",
)
async def waveform(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    # A thread: a recording transcribed before waveforms were kept is measured on this request.
    found = await to_thread.run_sync(service.waveform, recording_id)
    # Made once by transcription (a re-run makes the same peaks), so a browser may keep it.
    return JSONBody(
        {"id": recording_id, **found.as_dict()}, headers={"Cache-Control": "private, max-age=300"}
    )


@router.head("/api/v1/recordings/{recording_id}/transcript", include_in_schema=False)
@router.get(
    "/api/v1/recordings/{recording_id}/transcript",
    responses={
        200: {"content": {v.split(";")[0]: {} for v in FORMATS.values()}},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
    summary="The transcript as txt or md (turns with names and times), srt, vtt, docx, or json "
    "(segments with times and words); files are named after the title",
)
async def transcript(
    request: Request,
    recording_id: str,
    format: Annotated[Literal["txt", "srt", "vtt", "json", "md", "docx"], Query()] = "txt",
) -> Response:
    service = dependencies.service(request)
    if format == "json":
        return JSONResponse(
            _transcript_json(service, *service.with_machine(recording_id, so_far=True))
        )
    recording = service.transcribed(recording_id, "transcript", segments=True)
    segments, names = recording.segments, recording.speaker_names
    name = f"{_title(recording)}.{format}"
    if format in ("md", "docx"):
        document = Document(
            _title(recording),
            f"{recording.filename} · {clock(recording.duration_s)} · uploaded"
            f" {recording.created_at:%Y-%m-%d %H:%M} UTC",
            recording.summary,
        )
        if format == "docx":
            body = await to_thread.run_sync(to_docx, document, segments, names)
            return Response(body, media_type=FORMATS[format], headers=_named(name, "attachment"))
        return Response(to_markdown(document, segments, names), media_type=FORMATS[format],
                        headers=_named(name, "inline"))  # fmt: skip
    render = {"txt": to_text, "srt": to_srt, "vtt": to_vtt}[format]
    return PlainTextResponse(
        render(segments, names), media_type=FORMATS[format], headers=_named(name, "inline")
    )


def _title(recording: Recording) -> str:
    """What a file made of the recording is named after: its title, or its file's name."""
    return recording.title or os.path.splitext(recording.filename)[0] or recording.id


def _named(name: str, disposition: str) -> dict[str, str]:
    """A download name in ASCII for old clients and in UTF-8 for the others (RFC 6266)."""
    fallback = _ascii(name)
    if fallback == name:
        return {"Content-Disposition": f'{disposition}; filename="{name}"'}
    return {
        "Content-Disposition": f'{disposition}; filename="{fallback}";'
        f" filename*=UTF-8''{quote(name, safe='')}"
    }


def _transcript_json(
    service: RecordingService, recording: Recording, machine: list[Segment | None]
) -> dict:
    """Segments with their words, and beside a corrected one the machine's text and speaker."""
    words = words_by_segment(recording.segments, service.repository.words(recording.id))
    segments = []
    for i, (s, said, made) in enumerate(zip(recording.segments, words, machine, strict=True)):
        segment = {
            "id": i, "start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker,
            "words": [asdict(w) for w in said],
        }  # fmt: skip
        if made is not None:
            segment["machine"] = {"text": made.text, "speaker": made.speaker}
        segments.append(segment)
    return {
        "id": recording.id,
        "language": recording.language,
        "text": recording.transcript or "",
        # While it is transcribed: the windows so far, without speakers (settled at the end).
        "partial": recording.stages[StageName.TRANSCRIBE].status != StageStatus.DONE,
        "transcript_progress": progress_body(recording),
        "corrected": any(m is not None for m in machine),
        "speakers": speaker_list(recording),
        "segments": segments,
    }


_CHANGES = {
    "type": "object",
    "required": ["segments"],
    "properties": {
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer", "description": "the segment's id (its index)"},
                    "text": {"type": "string"},
                    "speaker": {"type": "string", "pattern": "^S[1-9][0-9]?$"},
                },
            },
        }
    },
}


@router.patch(
    "/api/v1/recordings/{recording_id}/transcript",
    responses={
        400: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    summary="Correct the transcript: a segment's text, its speaker, or both (a whole turn "
    "moved at once); the machine's is kept beside each corrected segment. Exports and search "
    "use the correction; a changed text is summarized again. Answers the transcript as JSON",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _CHANGES}}}
    },
)
async def correct_transcript(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    changes = parse_corrections(await json_body(request))
    recording, machine = await to_thread.run_sync(
        service.correct, recording_id, changes, actor(request)
    )
    return JSONBody(_transcript_json(service, recording, machine))


_NAMES = {"type": "object", "additionalProperties": {"type": "string"}}


@router.put(
    "/api/v1/recordings/{recording_id}/speakers",
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary='Name the recording\'s speakers: {"S1": "Alice"} (an empty name takes the '
    "label back); the names are used in its transcript and exports",
    # Read by the route after access is decided (api/body_limits.py), so declared here.
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _NAMES}}}
    },
)
async def name_speakers(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    names = await json_body(request)
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise Rejected(Rejected.INVALID_REQUEST, 'the body is an object of names: {"S1": "Alice"}')
    recording = await to_thread.run_sync(service.name_speakers, recording_id, names, actor(request))
    return JSONBody({"id": recording.id, "speakers": speaker_list(recording)})


def _ascii(text: str) -> str:
    return "".join(ch if ch.isascii() and ch.isprintable() and ch != '"' else "_" for ch in text)
