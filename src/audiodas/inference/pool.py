"""The inference processes of one engine: one per AI slot.

A caller holds an AI slot (`pool.slots.hold()`) and then runs `transcribe` or `summarize`; the
call goes to an idle process. A call that outlives its timeout, is cancelled, or whose process
dies, kills that process: the caller gets InferenceTimeout / InferenceFailed (the engine's
stage retry policy takes over), its slot is returned at once, and a fresh process is started
in the background to take the dead one's place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from audiodas.config import Settings
from audiodas.domain import Segment, Transcript
from audiodas.domain.transcript import TranscribedWindow
from audiodas.inference import wire
from audiodas.inference.errors import InferenceFailed, InferenceTimeout, ModelError
from audiodas.slots import Slots

log = logging.getLogger("audiodas.inference")

# Each inference uses one thread: two AI slots already fill two cores, a second thread per
# inference costs 60 % more CPU for no speed-up (docs/performance.md), and idle pool threads that spin or
# hold locks are what wedged the shared-process design.
_PINNED_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# glibc maps each allocation above a threshold (which grows to at most 32 MiB) on its own and
# unmaps it when freed: every transcription then faulted in ~57,000 fresh pages (0.1 s of kernel
# time for a 12 s clip, 15 % of the process's CPU), kernel work that a kernel without preemption
# finishes before a woken HTTP process may run. Kept in the heap, freed memory is reused: no
# faults, 10 % faster, and the process stays at its peak size (~340 MiB with tiny.en).
# In one heap: each other thread gets an arena of its own, capped at 64 MiB, and the model's
# thread filled 48 MiB of one in a single call; past the cap glibc maps and unmaps again (in
# the short-upload stream such a process spent 0.04 cores in the kernel, 0.006 in one heap).
_KEEP_FREED_MEMORY = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": str(256 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(512 << 20),
}
_START_TIMEOUT_S = 120.0
_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def inference_environment(threads: int) -> dict[str, str]:
    """The environment an inference process starts with: its native thread pools pinned, and
    freed memory kept for reuse."""
    return {**os.environ, **dict.fromkeys(_PINNED_THREADS, str(threads)), **_KEEP_FREED_MEMORY}


def transcribe_request(
    path: Path,
    language: str | None,
    prompt: str | None,
    word_timestamps: bool,
    diarize: bool = False,
    speakers: int | None = None,
    task: str = "transcribe",
    stream: bool = False,
    done: TranscribedWindow | None = None,
    windows: bool = False,
) -> dict:
    return {
        "op": "transcribe",
        "task": task,
        "stream": stream,  # each segment sent as it is decoded, then the transcript
        "windows": windows,  # each window sent once it is done
        "done": done.as_dict() if done else None,  # resumed: what was stored before
        "path": str(path),
        "language": language,
        "prompt": prompt,
        "word_timestamps": word_timestamps,
        "diarize": diarize,
        "speakers": speakers,
    }


OnPart = Callable[[dict], Awaitable[None]]


class InferenceProcess:
    """One child process (audiodas.inference.child) and the socket to it."""

    def __init__(self, process: subprocess.Popen, reader, writer, info: dict) -> None:  # type: ignore[no-untyped-def]
        self.process = process
        self.pid = process.pid
        self.info = info
        self._reader, self._writer = reader, writer
        self.busy_since: float | None = None
        self.deadline: float | None = None

    @classmethod
    async def start(cls, settings: Settings, env: dict[str, str] | None = None) -> InferenceProcess:
        """`env`: settings of this process's own (its priority)."""
        ours, theirs = socket.socketpair()
        env = {**inference_environment(settings.whisper_threads), **(env or {})}
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "audiodas.inference.child",
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours, limit=1 << 24)
        try:
            hello = await asyncio.wait_for(wire.read(reader), _START_TIMEOUT_S)
        except (EOFError, TimeoutError) as exc:
            process.kill()
            await asyncio.to_thread(process.wait)
            raise InferenceFailed(
                f"the inference process did not start (exit {process.returncode})"
            ) from exc
        return cls(process, reader, writer, hello["ready"])

    async def call(self, request: dict, timeout: float, on_part: OnPart | None = None) -> object:
        """The answer to `request`; what the child sends before it (streamed segments) goes to
        `on_part`, within the same timeout."""
        self.busy_since, self.deadline = time.monotonic(), time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                await wire.write(self._writer, request)
                reply = await wire.read(self._reader)
                while "ok" not in reply and "error" not in reply:
                    if on_part is not None:
                        await on_part(reply)
                    reply = await wire.read(self._reader)
        except TimeoutError as exc:
            raise InferenceTimeout(
                f"inference took longer than {timeout:.0f} s and was stopped"
            ) from exc
        except (EOFError, ConnectionError) as exc:
            raise InferenceFailed(f"the inference process died (pid {self.pid})") from exc
        finally:
            self.busy_since = self.deadline = None
        if "error" in reply:
            raise ModelError(reply["error"])
        return reply["ok"]

    async def stop(self, kill: bool = False) -> None:
        """Close the socket (the child exits when it reads EOF); kill it if asked or if it lingers."""
        self._writer.close()
        if kill:
            self.process.kill()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), 5)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)


class InferencePool:
    def __init__(
        self, settings: Settings, slots: Slots | None = None, env: dict[str, str] | None = None
    ) -> None:
        """`slots`: one process each (default: the AI slots); `env`: the processes' own
        settings (the live pool's priority)."""
        self.settings = settings
        self.slots = slots or Slots("ai", settings.ai_slots)
        self.env = env
        self.processes: list[InferenceProcess] = []
        self.timeouts = 0  # calls killed for outliving their timeout
        self.deaths = 0  # processes that died during a call
        self.restarts = 0  # processes started to replace one
        self._idle: asyncio.Queue[InferenceProcess] = asyncio.Queue()
        self._start_lock = asyncio.Lock()
        self._replacing: set[asyncio.Task] = set()
        self._started = False
        self._closing = False

    async def start(self) -> None:
        """Start one process per slot (models load in parallel); later calls return at once."""
        async with self._start_lock:
            if self._started:
                return
            started = await asyncio.gather(
                *(
                    InferenceProcess.start(self.settings, self.env)
                    for _ in range(self.slots.capacity)
                )
            )
            for process in started:
                self.processes.append(process)
                self._idle.put_nowait(process)
            self._started = True
            log.info("inference processes ready: %s", [p.pid for p in started])

    async def transcribe(
        self,
        path: Path,
        *,
        timeout: float,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
        diarize: bool = False,
        speakers: int | None = None,
        task: str = "transcribe",
        on_segment: Callable[[Segment], Awaitable[None]] | None = None,
        done: TranscribedWindow | None = None,
        on_window: Callable[[TranscribedWindow], Awaitable[None]] | None = None,
    ) -> Transcript:
        """Transcribe the file at `path` (the audio goes by path, never through the socket);
        with `diarize`, each segment and word labelled with its speaker; `task="translate"`
        into English. `on_segment` is given each segment as soon as it is decoded, `on_window`
        each window once it is done; `done` is what an interrupted run stored (not redone)."""
        request = transcribe_request(
            path, language, prompt, word_timestamps, diarize, speakers, task,
            stream=on_segment is not None, done=done, windows=on_window is not None,
        )  # fmt: skip

        async def on_part(part: dict) -> None:
            if "segment" in part and on_segment is not None:
                await on_segment(Segment(**part["segment"]))
            elif "window" in part and on_window is not None:
                await on_window(TranscribedWindow.from_dict(part["window"]))

        return Transcript.from_dict(await self._call(request, timeout, on_part))  # type: ignore[arg-type]

    async def decode(
        self, path: Path, *, timeout: float, language: str | None = None, prompt: str | None = None
    ) -> list[Segment]:
        """A stretch of live audio, raw 16 kHz PCM at `path` (WhisperTranscriber.decode)."""
        request = {"op": "decode", "path": str(path), "language": language, "prompt": prompt}
        found = await self._call(request, timeout)
        return [Segment(**segment) for segment in found]  # type: ignore[attr-defined]

    async def summarize(self, text: str, *, timeout: float) -> str | None:
        return await self._call({"op": "summarize", "text": text}, timeout)  # type: ignore[return-value]

    async def _call(self, request: dict, timeout: float, on_part: OnPart | None = None) -> object:
        """The caller holds a slot, so a process is idle or is being started in its place."""
        await self.start()
        try:  # a replacement may be loading its models: not part of the call's own timeout
            process = await asyncio.wait_for(self._idle.get(), _START_TIMEOUT_S)
        except TimeoutError as exc:
            raise InferenceTimeout("no inference process came up in time") from exc
        try:
            result = await process.call(request, timeout, on_part)
        except ModelError:  # it answered: alive and in step, so it serves the next call
            self._idle.put_nowait(process)
            raise
        except InferenceFailed as exc:  # timeout or death: never reuse a process in doubt
            if isinstance(exc, InferenceTimeout):
                self.timeouts += 1
            else:
                self.deaths += 1
            log.warning("inference process %d replaced: %s", process.pid, exc)
            self._replace(process)
            raise
        except BaseException:  # cancelled, or on_part failed, mid-call: the rest of its answer
            # would reach the next caller
            self._replace(process)
            raise
        self._idle.put_nowait(process)
        return result

    def _replace(self, dead: InferenceProcess) -> None:
        task = asyncio.create_task(self._start_replacement(dead))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _start_replacement(self, dead: InferenceProcess) -> None:
        await dead.stop(kill=True)
        self.processes.remove(dead)
        attempt = 0
        while not self._closing:
            try:
                fresh = await InferenceProcess.start(self.settings, self.env)
            except InferenceFailed as exc:
                delay = _RESTART_BACKOFF_S[min(attempt, len(_RESTART_BACKOFF_S) - 1)]
                log.error("%s; retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self.restarts += 1
            self.processes.append(fresh)
            self._idle.put_nowait(fresh)
            return

    def state(self) -> dict:
        """For /healthz and /metrics: slots, processes, and what went wrong so far."""
        now = time.monotonic()
        return {
            "slots": self.slots.as_dict(),
            "processes": [
                {"pid": p.pid, "busy_s": round(now - p.busy_since, 1) if p.busy_since else None}
                for p in self.processes
            ],
            # Past its deadline but not yet killed: should never last (the call's timeout kills it).
            "stuck": sum(1 for p in self.processes if p.deadline and now > p.deadline + 5),
            "timeouts": self.timeouts,
            "deaths": self.deaths,
            "restarts": self.restarts,
        }

    @property
    def closing(self) -> bool:
        """The engine is stopping: a call that fails now failed for that."""
        return self._closing

    async def close(self) -> None:
        self._closing = True
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in self.processes), return_exceptions=True)
        self.processes.clear()
