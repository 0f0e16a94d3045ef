"""The OpenAI-compatible audio API under `/v1` (what OpenAI's clients call): transcriptions
(json, text, srt, vtt, verbose_json, diarized_json; streamed as Server-Sent Events with
`stream=true`), translations into English, and the models it answers to. Synchronous: it
shares the engine's AI slots and timeout. Errors leave in OpenAI's shape (api/openai_errors.py).
"""

from __future__ import annotations

import asyncio
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from audiodas.api import dependencies, refusals
from audiodas.api.access import Authorized
from audiodas.api.errors import rejected_response
from audiodas.api.openai_errors import openai_error
from audiodas.api.renderings import to_srt, to_vtt
from audiodas.api.schemas import ERRORS, ErrorOut
from audiodas.api.uploads import multipart_openapi, receive_form
from audiodas.domain import Rejected, Segment, Transcript, quoted
from audiodas.domain.speakers import speakers_of
from audiodas.inference import (
    InferenceBusy,
    InferenceFailed,
    InferenceTimeout,
    InferenceUnavailable,
    ModelError,
)
from audiodas.inference.installed import ModelInfo, model_info

router = APIRouter(tags=["openai"], route_class=Authorized)

FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
ALIASES = ("whisper-1",)  # what clients ask for by default: the installed model answers
_CREATED = int(time.time())
_BODY = multipart_openapi(
    model={"type": "string", "example": "whisper-1"},
    language={"type": "string"},
    prompt={"type": "string"},
    response_format={"type": "string", "enum": list(FORMATS)},
    temperature={"type": "number"},
    stream={"type": "boolean"},
    **{
        "timestamp_granularities[]": {"type": "array", "items": {"type": "string"}},
        "known_speaker_names[]": {"type": "array", "items": {"type": "string"}},
    },
)
# What OpenAI's client can send that this server does not do: refused, never ignored.
UNSUPPORTED = {
    "include": "log probabilities are not given by this server",
    "known_speaker_references": "speakers are told apart, not matched to reference clips: "
    "name them with known_speaker_names, in order of appearance",
    "keywords": "keyword boosting is not supported: use prompt",
    "languages": "one language: use language",
}


def _refuse_unsupported(form) -> None:  # type: ignore[no-untyped-def]
    for name, why in UNSUPPORTED.items():
        if form.get(name) or form.get(f"{name}[]"):
            raise Rejected(Rejected.INVALID_FIELD, f"{name}: {why}")
    # "auto", or an object (sent as chunking_strategy[type]=server_vad and the like)
    chunking = {k: v for k, v in form.fields.items() if k.startswith("chunking_strategy")}
    if chunking and chunking != {"chunking_strategy": ["auto"]}:
        raise Rejected(
            Rejected.INVALID_FIELD,
            "chunking_strategy: only auto (the server cuts at pauses, 1-minute windows)",
        )
    temperature = form.get("temperature")
    if temperature and temperature.strip() not in ("0", "0.0"):
        raise Rejected(
            Rejected.INVALID_FIELD, "temperature: only 0 (the server decodes by beam search)"
        )


_RESPONSES = {
    **{k: v for k, v in ERRORS.items() if k in (400, 413, 415, 422)},
    500: {"model": ErrorOut, "description": "The model failed on this audio"},
    503: {"model": ErrorOut, "description": "No AI slot freed up in time (Retry-After)"},
    504: {"model": ErrorOut, "description": "The inference outlived its timeout"},
}


def installed(runtime) -> ModelInfo:  # type: ignore[no-untyped-def]
    return model_info(runtime.settings.whisper_model)


@router.get("/v1/models", summary="The models this server answers to (OpenAI's shape)")
async def models(request: Request) -> dict:
    runtime = dependencies.runtime(request)
    model = installed(runtime)
    return {"object": "list", "data": [_model(name) for name in (model.name, *ALIASES)]}


@router.get("/v1/models/{model_id}", responses={404: {"model": ErrorOut}})
async def one_model(model_id: str, request: Request) -> dict:
    runtime = dependencies.runtime(request)
    if model_id not in (installed(runtime).name, *ALIASES):
        raise Rejected(Rejected.NOT_FOUND, f"no model {quoted(model_id)} here")
    return _model(model_id)


def _model(name: str) -> dict:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "audiodas"}


@router.post(
    "/v1/audio/transcriptions",
    openapi_extra=_BODY,
    responses=_RESPONSES,
    summary="OpenAI-compatible transcription (synchronous; shares the engine's AI slots)",
)
async def transcriptions(request: Request) -> Response:
    runtime = dependencies.runtime(request)
    inference = dependencies.inference(request)
    return await _speech(request, runtime, inference, task="transcribe")


@router.post(
    "/v1/audio/translations",
    openapi_extra=_BODY,
    responses=_RESPONSES,
    summary="OpenAI-compatible translation into English (a multilingual model only)",
)
async def translations(request: Request) -> Response:
    runtime = dependencies.runtime(request)
    inference = dependencies.inference(request)
    return await _speech(request, runtime, inference, task="translate")


async def _speech(request: Request, runtime, inference, *, task: str) -> Response:  # type: ignore[no-untyped-def]
    settings = runtime.settings
    form = await receive_form(request, runtime.store, settings)
    assert form.file is not None
    try:
        info = await to_thread.run_sync(lambda: runtime.service.check_audio(form.written()))
        response_format, stream = _checked(form, installed(runtime), task)
        options = {
            "timeout": settings.inference_timeout(info.duration_s),
            "wait": settings.inference_wait_s,
            "language": form.get("language") or None,
            "prompt": form.get("prompt") or None,
            "word_timestamps": "word" in form.fields.get("timestamp_granularities[]", []),
            "diarize": response_format == "diarized_json",
            "task": task,
        }
    except BaseException:
        form.file.discard()
        raise
    if stream:
        return await _streamed(lambda on_segment: _transcribe(inference, form, options, on_segment))
    result = await _transcribe(inference, form, options)
    names = form.fields.get("known_speaker_names[]", [])
    return _answer(result, response_format, info.duration_s, task, names)


def _checked(form, model: ModelInfo, task: str) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    """The response format and whether to stream, once the request asks nothing this server
    cannot honour."""
    _refuse_unsupported(form)
    response_format = form.get("response_format", "json")
    if response_format not in FORMATS or (
        task == "translate" and response_format == "diarized_json"
    ):
        raise Rejected(Rejected.INVALID_FIELD, f"unknown response_format {quoted(response_format)}")
    language = form.get("language") or None
    if task == "translate" and not model.multilingual:
        raise Rejected(
            Rejected.INVALID_FIELD,
            f"translation needs a multilingual model; this server's is {model.name}, English "
            "only (AUDIODAS_WHISPER_MODEL names another: see `audiodas models whisper-base`)",
        )
    if language and language != "en" and not model.multilingual:
        raise Rejected(
            Rejected.INVALID_FIELD,
            f"language {quoted(language)} cannot be honoured: this server's model "
            f"({model.name}) is English only (AUDIODAS_WHISPER_MODEL names another)",
        )
    stream = form.get("stream", "false").lower() == "true"
    if stream and response_format not in ("json", "text"):
        raise Rejected(
            Rejected.INVALID_FIELD, "stream=true gives text: response_format json or text"
        )
    return response_format, stream


async def _transcribe(inference, form, options: dict, on_segment=None) -> Transcript:  # type: ignore[no-untyped-def]
    """Through the engine's inference pool, same slots and timeout as the pipeline's; failures
    as refusals; the upload discarded when it ends."""
    try:
        return await inference.transcribe(form.file.path, on_segment=on_segment, **options)
    except InferenceBusy as exc:
        raise Rejected(refusals.INFERENCE_BUSY, str(exc)) from exc
    except InferenceTimeout as exc:
        raise Rejected(refusals.INFERENCE_TIMEOUT, str(exc)) from exc
    except InferenceUnavailable as exc:
        raise Rejected(refusals.ENGINE_UNAVAILABLE, str(exc)) from exc
    except ModelError as exc:  # the audio passed the checks, yet the model could not take it
        raise Rejected(
            refusals.UNPROCESSABLE_AUDIO, f"the model could not read this audio: {exc}"
        ) from exc
    except InferenceFailed as exc:
        raise Rejected(refusals.INFERENCE_FAILED, f"transcription failed: {exc}") from exc
    finally:
        form.file.discard()


_END = object()
OnSegment = Callable[[Segment], Awaitable[None]]


async def _streamed(transcribe: Callable[[OnSegment], Awaitable[Transcript]]) -> Response:
    """OpenAI's transcription stream: a `transcript.text.delta` as each segment is decoded,
    then `transcript.text.done` with the whole text. A failure before the first segment (no
    slot, unreadable audio) is answered as without streaming; one after it ends the stream
    with an `error` event, which OpenAI's clients raise."""
    segments: asyncio.Queue = asyncio.Queue()

    async def run() -> Transcript:
        try:
            return await transcribe(segments.put)
        finally:
            segments.put_nowait(_END)

    task = asyncio.create_task(run())
    try:
        first = await segments.get()
    except BaseException:
        task.cancel()
        raise
    if first is _END:
        return Response(_event({"type": "transcript.text.done", "text": task.result().text}),
                        media_type="text/event-stream")  # fmt: skip

    async def events() -> AsyncIterator[bytes]:
        try:
            segment, n = first, 0
            while segment is not _END:
                yield _event(
                    {"type": "transcript.text.delta", "delta": (" " if n else "") + segment.text}
                )
                segment, n = await segments.get(), n + 1
            yield _event({"type": "transcript.text.done", "text": task.result().text})
        except Rejected as exc:
            status = rejected_response(exc).status_code
            yield _event(
                {"type": "error", **openai_error(status, {"error": exc.code, "detail": exc.detail})}
            )
        finally:
            task.cancel()  # the client went away: the inference stops and frees its slot

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _event(event: dict) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


def _answer(result: Transcript, response_format: str, duration: float, task: str, names: list[str]) -> Response:  # fmt: skip
    if response_format == "text":
        return PlainTextResponse(result.text + "\n")
    if response_format == "srt":
        return PlainTextResponse(to_srt(result.segments))
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(result.segments), media_type="text/vtt")
    if response_format == "diarized_json":
        return JSONResponse(_diarized(result, duration, names))
    if response_format == "verbose_json":
        return JSONResponse(
            {
                "task": task,
                "language": _language_name(result.language),
                "duration": duration,
                "text": result.text,
                "segments": [
                    {
                        "id": i,
                        "seek": 0,
                        "start": s.start,
                        "end": s.end,
                        "text": s.text,
                        "tokens": [],
                        "temperature": 0.0,
                        "avg_logprob": 0.0,
                        "compression_ratio": 0.0,
                        "no_speech_prob": 0.0,
                    }
                    for i, s in enumerate(result.segments)
                ],
                **({"words": [asdict(w) for w in result.words]} if result.words else {}),
            }
        )
    return JSONResponse({"text": result.text})


def _diarized(result: Transcript, duration: float, names: list[str]) -> dict:
    """OpenAI's TranscriptionDiarized: speakers as `known_speaker_names` name them in order of
    appearance, the others (and without names) A, B, ..."""
    order = speakers_of(result.segments)
    letters = iter(string.ascii_uppercase)
    label = {s: names[i] if i < len(names) else next(letters) for i, s in enumerate(order)}
    return {
        "task": "transcribe",
        "duration": duration,
        "text": result.text,
        "segments": [
            {
                "type": "transcript.text.segment",
                "id": f"seg_{i}",
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "speaker": label.get(s.speaker, "A"),
            }
            for i, s in enumerate(result.segments)
        ],
        "usage": {"type": "duration", "seconds": duration},
    }


_LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian"}


def _language_name(code: str | None) -> str:
    return _LANGUAGES.get(code or "en", code or "english")
