"""Live transcription over a WebSocket: `/api/v1/live` (`upload` scope: a key, the web app's
session, or a signed link from `GET /api/v1/live/link`).

The protocol (README, "Live transcription"):
- the client sends `{"type": "start", "domain"?, "speakers"?, "language"?}`, then binary frames
  of 16 kHz mono 16-bit little-endian PCM (any length, an even number of bytes), then
  `{"type": "stop"}`;
- the server sends `{"type": "ready", "max_s"}` once the session is open, `{"type": "partial",
  "text"}` (the unsettled tail: it may change, "" once all is settled) and `{"type": "final",
  "start", "end", "text"}` (settled, never changed), then `{"type": "recording", "id"}`: the
  session is an ordinary recording from then on. A refusal is `{"type": "error", "error",
  "detail"}` and a close.

Close codes: 1000 done; 1003 a frame this protocol does not have (the reason says which); 1008
a start whose fields are refused; 1011 decoding failed three times in a row (once is tried
again); 1012 the server is restarting (its engine stopped); 1013 every live session is taken
(AUDIODAS_LIVE_SESSIONS). Whatever audio arrived is kept as a recording however the session
ends: a stop, a disconnect, a malformed frame, silence from the client for IDLE_S, the longest
recording the server takes, or a server shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from asyncio import FIRST_COMPLETED

from fastapi import APIRouter, Request, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from audiodas.api import access, dependencies
from audiodas.api.edge import deny
from audiodas.api.schemas import JSONBody
from audiodas.domain import Rejected
from audiodas.inference import InferenceBusy, InferenceUnavailable
from audiodas.services.live import BYTES_PER_S, LiveSession

log = logging.getLogger("audiodas.live")

router = APIRouter(tags=["live"], route_class=access.Authorized)

PATH = "/api/v1/live"
IDLE_S = 30.0  # a client that sends nothing for this long has gone
MAX_FRAME_BYTES = 1 << 20  # 32 s of audio: a client sends far less at a time
UNSUPPORTED, POLICY, FAILED, RESTART, TRY_LATER = 1003, 1008, 1011, 1012, 1013


class Malformed(Exception):
    """A frame the protocol does not have: closed with 1003 and this as the reason."""


@router.get(
    "/api/v1/live/link",
    summary="A signed link to open the live WebSocket with, for a page that cannot send a key",
    description=__doc__,  # the WebSocket's protocol: OpenAPI has no place for the socket itself
)
async def live_link(request: Request) -> JSONBody:
    runtime = dependencies.runtime(request)
    expires = runtime.access.link_expiry(request.state.grant)
    return JSONBody(
        {"url": runtime.access.sign(PATH, expires, request.state.grant), "expires": expires}
    )


@router.websocket(PATH)
async def live(websocket: WebSocket) -> None:
    try:
        await access.authorize_connection(websocket, f"WS {PATH}")
    except Rejected as refusal:
        return await deny(websocket.scope, websocket.receive, websocket.send, refusal)
    await websocket.accept()
    runtime = websocket.app.state.runtime
    try:
        start = await _start(websocket)
        runtime.service.check_fields(start.get("domain"), _text(start.get("speakers")))
        decoder = await websocket.app.state.inference.live()
    except Malformed as exc:
        return await _close(websocket, UNSUPPORTED, str(exc))
    except Rejected as exc:
        return await _refuse(websocket, POLICY, exc.code, exc.detail)
    except InferenceBusy as exc:
        return await _refuse(websocket, TRY_LATER, "live_busy", str(exc))
    except InferenceUnavailable as exc:
        return await _refuse(websocket, FAILED, "engine_unavailable", str(exc))
    except WebSocketDisconnect:
        return

    async def send(message: dict) -> None:
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # gone: kept anyway
                await websocket.send_json(message)

    ingest = functools.partial(runtime.service.ingest, by=access.actor(websocket))
    session = LiveSession(
        decoder, runtime.store, ingest, runtime.settings, send,
        domain=start.get("domain"), speakers=_text(start.get("speakers")),
        language=start.get("language"),
    )  # fmt: skip
    await send({"type": "ready", "max_s": session.max_bytes / BYTES_PER_S})
    runner = asyncio.create_task(session.run())
    ending = (1000, "")
    try:
        ending = await _receive(websocket, session, runner)
    except Malformed as exc:
        ending = (UNSUPPORTED, str(exc))
    finally:
        session.stop_running()
        with contextlib.suppress(Exception):
            await runner
    try:
        engine_ok = not runner.cancelled() and runner.exception() is None
        recording = await session.finish(decode=engine_ok)
    except Rejected as exc:
        await send({"type": "error", "error": exc.code, "detail": exc.detail})
        return await _close(websocket, 1000 if ending[0] == 1000 else ending[0], ending[1])
    except BaseException:
        session.discard()
        raise
    finally:
        await decoder.close()
    log.info("live session kept as recording %s (%.1f s, %d decodings)",
             recording.id, session.heard_s, session.decodings)  # fmt: skip
    await send({"type": "recording", "id": recording.id})
    await _close(websocket, *ending)


async def _start(websocket: WebSocket) -> dict:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is None or _json(message).get("type") != "start":
        raise Malformed('the first message is {"type": "start", ...}: audio follows it')
    return _json(message)


async def _receive(
    websocket: WebSocket, session: LiveSession, runner: asyncio.Task
) -> tuple[int, str]:
    """Audio into the session until the client stops (or goes, or must be stopped); the
    close code and reason to end with."""
    # Read on however far decoding lags: the audio goes to disk, and a socket left unread
    # answers no ping (a client sending faster than real time was closed by its own ping
    # timeout when it was).
    while True:
        # The next message, or decoding ending (it failed) while the client is quiet.
        receiving = asyncio.ensure_future(websocket.receive())
        await asyncio.wait({receiving, runner}, timeout=IDLE_S, return_when=FIRST_COMPLETED)
        if not receiving.done():
            receiving.cancel()
            if not runner.done():
                return 1000, f"nothing arrived for {IDLE_S:g} s: what arrived is kept"
        if runner.done():
            if isinstance(runner.exception(), InferenceUnavailable):  # the engine stopped
                return RESTART, "the server is restarting: what arrived is kept"
            return FAILED, "live decoding failed: what arrived is kept"
        message = receiving.result()
        if message["type"] == "websocket.disconnect":
            return 1000, ""
        data = message.get("bytes")
        if data is not None:
            if len(data) % 2:
                raise Malformed("audio frames are 16-bit samples: an even number of bytes")
            if len(data) > MAX_FRAME_BYTES:
                raise Malformed(f"a frame has at most {MAX_FRAME_BYTES} bytes")
            session.add(data)
            if session.full:
                return 1000, f"the longest recording this server keeps is {session.heard_s:.0f} s"
            continue
        if _json(message).get("type") == "stop":
            return 1000, ""
        raise Malformed('after the start: audio frames, then {"type": "stop"}')


def _json(message: dict) -> dict:
    text = message.get("text")
    if text is None:
        raise Malformed('expected a text message {"type": ...}')
    try:
        parsed = json.loads(text)
    except ValueError:
        raise Malformed("a text message is JSON") from None
    if not isinstance(parsed, dict):
        raise Malformed('a text message is a JSON object {"type": ...}')
    return parsed


def _text(value: object) -> str | None:
    return None if value is None else str(value)


async def _refuse(websocket: WebSocket, code: int, error: str, detail: str) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_json({"type": "error", "error": error, "detail": detail})
    await _close(websocket, code, detail)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.client_state is WebSocketState.CONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code, reason[:120])  # a close reason has at most 123 bytes
