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
    def __init__(self, pool: InferencePool, run_path: Path) -> None:
        self.pool = pool
        self.path = _sockets(run_path) / f"{os.getpid()}.sock"
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a dead engine's that had this pid
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await wire.read(reader)
            await wire.write(writer, await self._answer(request, writer))
        except (EOFError, ConnectionError):
            pass  # the API process went away (its client disconnected)
        finally:
            writer.close()

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

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        candidates = list(self.folder.glob("*.sock")) if self.folder.is_dir() else []
        random.shuffle(candidates)
        for path in candidates:
            try:
                return await asyncio.open_unix_connection(str(path), limit=1 << 24)
            except (FileNotFoundError, ConnectionRefusedError):
                continue  # an engine that died without removing its socket
        raise InferenceUnavailable("no engine process is running on this machine")
