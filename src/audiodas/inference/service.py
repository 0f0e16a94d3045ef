"""The engine's inference pool, offered to the API's processes on the same machine (the
OpenAI-compatible endpoint), so the machine has one set of AI slots and one set of models.

Requests and replies are wire messages over a Unix socket per engine in the run folder
(`inference/<pid>.sock`; the client tries them in random order):
    {"op": "transcribe", "path", "language", "prompt", "word_timestamps", "diarize", "task",
     "stream", "timeout", "wait"}
    → {"segment": segment}... (with "stream": each as it is decoded), then
      {"ok": transcript} | {"error": "busy" | "timeout" | "model" | "failed", "detail": text}
An API process that hangs up stops its transcription: the next segment cannot be sent, so the
inference process is replaced and its slot freed.

A live session (api/live.py) keeps its connection for as long as it lasts, so the sessions
open on the machine are counted here, where they are decoded:
    {"op": "live"} → {"ok": "open"} | {"error": "busy", "detail"}, then any number of
    {"path", "language", "prompt", "timeout"} → {"ok": [segment...]} | {"error", "detail"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

from audiodas.domain import Segment, Transcript
from audiodas.inference import wire
from audiodas.inference.errors import (
    InferenceBusy,
    InferenceFailed,
    InferenceTimeout,
    InferenceUnavailable,
    ModelError,
)
from audiodas.inference.pool import InferencePool, transcribe_request

log = logging.getLogger("audiodas.inference")


def _sockets(run_path: Path) -> Path:
    return run_path / "inference"


class InferenceServer:
    def __init__(
        self,
        pool: InferencePool,
        run_path: Path,
        live: InferencePool | None = None,
        live_sessions: int = 0,
    ) -> None:
        """`live`: the pool that decodes live sessions, at most `live_sessions` at once."""
        self.pool = pool
        self.path = _sockets(run_path) / f"{os.getpid()}.sock"
        self.live = live
        self.live_sessions = live_sessions
        self.live_open = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a dead engine's that had this pid
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.path.unlink(missing_ok=True)
        if self.live is not None:
            await self.live.close()  # its sessions' connections end: they end cleanly
        if self._server is not None:
            await self._server.wait_closed()

    def state(self) -> dict:
        return {"sessions": self.live_open, "capacity": self.live_sessions}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await wire.read(reader)
            if request.get("op") == "live":
                await self._live(reader, writer)
            else:
                await wire.write(writer, await self._answer(request, writer))
        except (EOFError, ConnectionError):
            pass  # the API process went away (its client disconnected)
        finally:
            writer.close()

    async def _live(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.live is None or self.live_open >= self.live_sessions:
            detail = (
                f"{self.live_open} live sessions are running, the most this server takes "
                f"(AUDIODAS_LIVE_SESSIONS={self.live_sessions}): try again later"
            )
            await wire.write(writer, {"error": "busy", "detail": detail})
            return
        self.live_open += 1
        try:
            await self.live.start()  # the first session waits for the models, once
            await wire.write(writer, {"ok": "open"})
            while True:
                request = await wire.read(reader)  # EOFError: the session ended
                try:
                    async with self.live.slots.hold():
                        found = await self.live.decode(
                            Path(request["path"]),
                            timeout=request["timeout"],
                            language=request.get("language"),
                            prompt=request.get("prompt"),
                        )
                except InferenceTimeout as exc:
                    await wire.write(writer, {"error": "timeout", "detail": str(exc)})
                except (ModelError, InferenceFailed) as exc:
                    # Its process killed as the engine stops: the session hears a restart.
                    error = "stopping" if self.live.closing else "failed"
                    await wire.write(writer, {"error": error, "detail": str(exc)})
                else:
                    await wire.write(writer, {"ok": [asdict(segment) for segment in found]})
        finally:
            self.live_open -= 1

    async def _answer(self, request: dict, writer: asyncio.StreamWriter) -> dict:
        timeout, wait = request.pop("timeout"), request.pop("wait")

        async def send(segment: Segment) -> None:
            await wire.write(writer, {"segment": asdict(segment)})

        try:
            async with self.pool.slots.hold(wait=wait):
                transcript = await self.pool.transcribe(
                    Path(request["path"]),
                    timeout=timeout,
                    language=request.get("language"),
                    prompt=request.get("prompt"),
                    word_timestamps=bool(request.get("word_timestamps")),
                    diarize=bool(request.get("diarize")),
                    task=request.get("task") or "transcribe",
                    on_segment=send if request.get("stream") else None,
                )
        except InferenceTimeout as exc:
            return {"error": "timeout", "detail": str(exc)}
        except ModelError as exc:
            return {"error": "model", "detail": str(exc)}
        except InferenceFailed as exc:
            return {"error": "failed", "detail": str(exc)}
        except TimeoutError:  # no slot within `wait`
            return {"error": "busy", "detail": f"every AI slot stayed busy for {wait:.0f} s"}
        return {"ok": transcript.as_dict()}


class InferenceClient:
    """What an API process uses: same calls as the pool, answered by the engine process."""

    def __init__(self, run_path: Path) -> None:
        self.folder = _sockets(run_path)

    async def transcribe(
        self,
        path: Path,
        *,
        timeout: float,
        wait: float,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
        diarize: bool = False,
        task: str = "transcribe",
        on_segment: Callable[[Segment], Awaitable[None]] | None = None,
    ) -> Transcript:
        """`on_segment` is given each segment as soon as it is decoded."""
        reader, writer = await self._connect()
        request = {
            **transcribe_request(
                path,
                language,
                prompt,
                word_timestamps,
                diarize=diarize,
                task=task,
                stream=on_segment is not None,
            ),  # fmt: skip
            "timeout": timeout,
            "wait": wait,
        }
        try:
            # The server answers within wait + timeout; the margin covers a process restart.
            async with asyncio.timeout(wait + timeout + 30):
                await wire.write(writer, request)
                reply = await wire.read(reader)
                while "segment" in reply:
                    if on_segment is not None:
                        await on_segment(Segment(**reply["segment"]))
                    reply = await wire.read(reader)
        except (EOFError, ConnectionError, TimeoutError) as exc:
            raise InferenceUnavailable("the engine process did not answer") from exc
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if "ok" in reply:
            return Transcript.from_dict(reply["ok"])
        error = {"busy": InferenceBusy, "timeout": InferenceTimeout, "model": ModelError}.get(
            reply["error"], InferenceFailed
        )
        raise error(reply["detail"])

    async def live(self) -> LiveDecoder:
        """A live session's decoder (close it when the session ends); InferenceBusy when the
        machine has all the live sessions it takes."""
        reader, writer = await self._connect()
        try:
            await wire.write(writer, {"op": "live"})
            reply = await wire.read(reader)
        except (EOFError, ConnectionError) as exc:
            writer.close()
            raise InferenceUnavailable("the engine process did not answer") from exc
        if "error" in reply:
            writer.close()
            raise InferenceBusy(reply["detail"])
        return LiveDecoder(reader, writer)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        candidates = list(self.folder.glob("*.sock")) if self.folder.is_dir() else []
        random.shuffle(candidates)
        for path in candidates:
            try:
                return await asyncio.open_unix_connection(str(path), limit=1 << 24)
            except (FileNotFoundError, ConnectionRefusedError):
                continue  # an engine that died without removing its socket
        raise InferenceUnavailable("no engine process is running on this machine")


class LiveDecoder:
    """One live session's line to the engine's live pool: stretches decoded one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def decode(
        self, path: Path, *, timeout: float, language: str | None = None, prompt: str | None = None
    ) -> list[Segment]:
        """Segments of the raw 16 kHz PCM at `path`, times from its start."""
        request = {"path": str(path), "timeout": timeout, "language": language, "prompt": prompt}
        try:
            async with asyncio.timeout(timeout + 30):  # a decode waits for the one before
                await wire.write(self._writer, request)
                reply = await wire.read(self._reader)
        except (EOFError, ConnectionError, TimeoutError) as exc:
            raise InferenceUnavailable("the engine process did not answer") from exc
        if reply.get("error") == "stopping":
            raise InferenceUnavailable(f"the engine is stopping ({reply['detail']})")
        if "error" in reply:
            raise (InferenceTimeout if reply["error"] == "timeout" else InferenceFailed)(
                reply["detail"]
            )
        return [Segment(**segment) for segment in reply["ok"]]

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
