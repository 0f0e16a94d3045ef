"""The models of one process and the slots that cap their use: shared by the engine's stages
and the synchronous OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from audiodas.adapters.summarizers import make_summarizer
from audiodas.adapters.whisper import WhisperTranscriber
from audiodas.config import Settings
from audiodas.engine.slots import Slots


class SpeechAI:
    def __init__(self, settings: Settings) -> None:
        self.slots = Slots("ai", settings.ai_slots)
        self.executor = ThreadPoolExecutor(
            max_workers=settings.ai_slots,
            thread_name_prefix="audiodas-ai",
            initializer=_lower_thread_priority,
            initargs=(settings.heavy_work_nice,),
        )
        self.transcriber = WhisperTranscriber(
            settings.whisper_model,
            compute_type=settings.whisper_compute_type,
            cpu_threads=settings.whisper_threads,
            num_workers=settings.ai_slots,
            beam_size=settings.whisper_beam_size,
        )
        self.summarizer = make_summarizer(settings.summarizer, settings.t5_model)

    async def run(self, fn: Any, /, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run blocking model code in an AI thread (the caller holds a slot). A timeout turns a
        stuck inference into a stage error instead of a recording that never ends (the thread
        itself cannot be stopped)."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"inference took longer than {timeout:.0f} s") from exc

    async def load(self) -> None:
        """Load the models once, in AI threads, so that their own threads inherit the lower priority."""
        await self.run(self.transcriber.load)
        if hasattr(self.summarizer, "load"):
            await self.run(self.summarizer.load)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _lower_thread_priority(nice: int) -> None:
    # Linux keeps a nice value per thread: inference threads yield to the API's.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
