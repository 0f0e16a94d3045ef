"""API v1: recordings.

The reads (list, get) are small indexed queries, awaited on the event loop (a hop to a worker
thread cost more than the query: profiled, thread hand-offs were the largest share of the API's
CPU under load); `adapters/database/awaited.py` says how on each database. A stream's file is
looked up once and remembered. Uploads and deletes, which fsync and probe, run in threads.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response

from audiodas.api import dependencies
from audiodas.api.access import Authorized, actor
from audiodas.api.body_limits import json_body
from audiodas.api.files import RangeFileResponse, content_disposition
from audiodas.api.schemas import (
    ERRORS,
    DeletionReceipt,
    DeliveryList,
    DeliveryOut,
    ErrorOut,
    JSONBody,
    RecordingList,
    RecordingOut,
    RenderedJSON,
    recording_body,
)
from audiodas.api.uploads import multipart_openapi, receive_form
from audiodas.domain import Order, Recording, RecordingStatus, Rejected, VariantName
from audiodas.domain.speakers import MAX_SPEAKERS

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"], route_class=Authorized)

_UPLOAD_BODY = multipart_openapi(
    domain={"type": "string", "example": "economics"},
    callback_url={
        "type": "string",
        "format": "uri",
        "description": "Also POST this recording's recording.done/failed/rejected here "
        '(README, "Webhooks")',
    },
    speakers={
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_SPEAKERS,
        "description": "How many voices the recording has, if known (else estimated)",
    },
)


# What a client (or a fuzzer) can do next with an upload's id (OpenAPI links).
_NEXT = {
    name: {"operationId": operation, "parameters": {"recording_id": "$response.body#/id"}}
    for name, operation in [
        ("GetRecording", "get_recording_api_v1_recordings__recording_id__get"),
        ("StreamRecording", "stream_api_v1_recordings__recording_id__stream_get"),
        ("GetTranscript", "transcript_api_v1_recordings__recording_id__transcript_get"),
        ("RetryRecording", "retry_recording_api_v1_recordings__recording_id__retry_post"),
        ("DeleteRecording", "delete_recording_api_v1_recordings__recording_id__delete"),
    ]
}


@router.post(
    "",
    status_code=202,
    response_model=RecordingOut,
    responses={202: {"links": _NEXT}, **{k: v for k, v in ERRORS.items() if k != 404}},
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a recording (multipart field `file`, optional `domain`, `callback_url`, "
    "`speakers`)",
)
async def upload(request: Request) -> JSONBody:
    service = dependencies.service(request)
    views = dependencies.views(request)
    metrics = request.app.state.metrics
    try:
        form = await receive_form(request, service.store, service.settings, to_keep=True)

        def ingest() -> Recording:
            return service.ingest(
                form.written(),
                form.filename,
                form.get("domain"),
                form.get("callback_url"),
                form.get("speakers"),
                by=actor(request),
            )

        recording = await to_thread.run_sync(ingest)
    except Rejected as exc:
        metrics.uploads.labels(exc.code).inc()
        raise
    metrics.uploads.labels("accepted").inc()
    metrics.upload_bytes.inc(recording.size_bytes)
    return JSONBody(
        views.linked(recording_body(recording)),
        status_code=202,
        headers={"Location": f"/api/v1/recordings/{recording.id}"},
    )


@router.get(
    "",
    response_model=RecordingList,
    responses={400: {"model": ErrorOut}},
    summary="Recordings, newest first (or in `sort` order); with `q`, those that say it, best "
    "match first",
    description="Without transcripts (read one recording for that). With `q` (words, and "
    '"phrases" in double quotes; English stemming), every term must occur somewhere in the '
    "recording: its filename, its summary or its transcript. Each item then carries its best passage as "
    "`match`, with `start_s` for a segment, so a player can open there.",
)
async def list_recordings(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    status: RecordingStatus | None = None,
    q: Annotated[str | None, Query(description="what to search for (up to 500 characters)")] = None,
    sort: Annotated[
        Order, Query(description="a list's order (a search's is by relevance): newest first, ...")
    ] = Order.NEWEST,
) -> JSONBody:
    views = dependencies.views(request)
    if q is not None:
        if sort is not Order.NEWEST:
            raise Rejected(Rejected.INVALID_FIELD, "a search is ordered by relevance: no sort")
        return JSONBody(await views.search(q, limit=limit, cursor=cursor, status=status))
    page = await views.page_json(limit=limit, cursor=cursor, status=status, order=sort)
    return RenderedJSON(page)


_TITLE = {
    "type": "object",
    "required": ["title"],
    "properties": {"title": {"type": ["string", "null"], "maxLength": 200}},
}


@router.get("/{recording_id}", response_model=RecordingOut, responses={404: {"model": ErrorOut}})
async def get_recording(recording_id: str, request: Request) -> JSONBody:
    views = dependencies.views(request)
    return RenderedJSON(await views.one_json(recording_id))


@router.patch(
    "/{recording_id}",
    response_model=RecordingOut,
    responses={404: {"model": ErrorOut}, 400: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary='Give the recording a title: {"title": "Budget meeting"} (null or "" takes it '
    "away); search finds it and exports are named after it; the filename stays",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _TITLE}}}
    },
)
async def retitle(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    views = dependencies.views(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != {"title"}:
        raise Rejected(Rejected.INVALID_REQUEST, 'the body is {"title": "..."}')
    recording = await to_thread.run_sync(
        service.retitle, recording_id, body["title"], actor(request)
    )
    return JSONBody(views.linked(recording_body(recording)))


@router.head("/{recording_id}/stream", include_in_schema=False)  # what a player asks first
@router.get(
    "/{recording_id}/stream",
    status_code=200,
    response_class=RangeFileResponse,
    responses={
        200: {"content": {"audio/*": {}}, "description": "The whole file"},
        206: {"content": {"audio/*": {}}, "description": "The requested byte range(s)"},
        307: {"description": "With AUDIODAS_S3_STREAM=redirect: a presigned URL of the store"},
        **{k: v for k, v in ERRORS.items() if k in (400, 404, 409, 416)},
    },
    summary="Stream a variant; answers Range requests with 206 Partial Content",
)
async def stream(
    request: Request, recording_id: str, variant: VariantName = VariantName.ORIGINAL
) -> RangeFileResponse:
    service = dependencies.service(request)
    if service.store.redirects:
        return await _redirected(service, recording_id, variant)
    found = service.remembered_variant_file(recording_id, variant) or await to_thread.run_sync(
        service.variant_file, recording_id, variant
    )
    return RangeFileResponse(
        found.path,
        media_type=found.content_type,
        filename=found.download_name,
        stat_result=found.stat,
    )


async def _redirected(service, recording_id: str, variant: VariantName) -> Response:  # type: ignore[no-untyped-def]
    """307 to a presigned URL of the store, once the key or signed link was checked (the
    player's next request comes here again, so a revoked key stops it there)."""
    blob = await to_thread.run_sync(service.variant_blob, recording_id, variant)
    url = service.store.presigned(
        blob.key,
        content_type=blob.content_type,
        disposition=content_disposition(blob.download_name),
    )
    return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"})


@router.post(
    "/{recording_id}/retry",
    status_code=202,
    response_model=RecordingOut,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Run a failed recording's failed stages again (409 unless it is failed)",
)
async def retry_recording(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    views = dependencies.views(request)
    recording = await to_thread.run_sync(service.retry, recording_id)
    return JSONBody(views.linked(recording_body(recording)), status_code=202)


@router.get(
    "/{recording_id}/deliveries",
    response_model=DeliveryList,
    responses={404: {"model": ErrorOut}},
    summary="The webhook deliveries of the recording's events: status, attempts, last error",
)
async def deliveries(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    found = await to_thread.run_sync(service.deliveries, recording_id)
    return JSONBody({"items": [d.as_dict() for d in found]})


@router.post(
    "/{recording_id}/deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=DeliveryOut,
    responses={404: {"model": ErrorOut}},
    summary="Send a delivery again now, its attempts counted afresh (also one given up)",
)
async def resend(recording_id: str, delivery_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    delivery = await to_thread.run_sync(service.resend, recording_id, delivery_id)
    return JSONBody(delivery.as_dict(), status_code=202)


@router.delete(
    "/{recording_id}",
    response_model=DeletionReceipt,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Delete a recording and its files (refused under retention or a legal hold); "
    "the receipt lists each file removed with its size and SHA-256",
)
async def delete_recording(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    receipt = await to_thread.run_sync(service.delete, recording_id, actor(request))
    return JSONBody(receipt)


_REASON = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["reason"],
                    "additionalProperties": False,
                    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
                }
            }
        },
    }
}
_RETENTION = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["until"],
                    "additionalProperties": False,
                    "properties": {
                        "until": {"type": "string", "description": "ISO 8601 date or time"},
                        "reason": {"type": ["string", "null"], "maxLength": 500},
                    },
                }
            }
        },
    }
}


@router.put(
    "/{recording_id}/hold",
    response_model=RecordingOut,
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    openapi_extra=_REASON,
    summary='Put a legal hold on the recording (`{"reason": "..."}`): no DELETE until released',
)
async def hold(recording_id: str, request: Request) -> JSONBody:
    return await _held(request, recording_id, "hold")


@router.delete(
    "/{recording_id}/hold",
    response_model=RecordingOut,
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    openapi_extra=_REASON,
    summary='Release the legal hold (`{"reason": "..."}`: why it ends)',
)
async def release(recording_id: str, request: Request) -> JSONBody:
    return await _held(request, recording_id, "release")


@router.put(
    "/{recording_id}/retention",
    response_model=RecordingOut,
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    openapi_extra=_RETENTION,
    summary='Move the end of retention: `{"until": "2033-01-01"}` extends it; an earlier date '
    'needs `"reason"`',
)
async def retention(recording_id: str, request: Request) -> JSONBody:
    service = dependencies.service(request)
    views = dependencies.views(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not {"until"} <= set(body) <= {"until", "reason"}:
        raise Rejected(Rejected.INVALID_REQUEST, 'the body is {"until": "<date>", "reason": ...}')
    recording = await to_thread.run_sync(
        service.retain, recording_id, body["until"], body.get("reason"), actor(request)
    )
    return JSONBody(views.linked(recording_body(recording)))


async def _held(request: Request, recording_id: str, change: str) -> JSONBody:
    service = dependencies.service(request)
    views = dependencies.views(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != {"reason"}:
        raise Rejected(Rejected.INVALID_REQUEST, 'the body is {"reason": "..."}')
    method = service.hold if change == "hold" else service.release
    recording = await to_thread.run_sync(method, recording_id, body["reason"], actor(request))
    return JSONBody(views.linked(recording_body(recording)))
