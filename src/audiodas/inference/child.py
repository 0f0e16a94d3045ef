"""An inference process: `python -m audiodas.inference.child FD PARENT_PID`.

Loads its models once, says it is ready, then answers its parent's requests one at a time on
the socket it inherited as FD. Its native thread pools were pinned by the parent through the
environment (OMP/OpenBLAS/MKL threads) before numpy and CTranslate2 load here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from audiodas.config import Settings
from audiodas.domain.transcript import TranscribedWindow
from audiodas.inference import wire
from audiodas.inference.models.summarizers import ExtractiveSummarizer, Summarizer
from audiodas.processes import die_with_parent


class Models:
    def __init__(self, settings: Settings) -> None:
        from audiodas.inference.models.whisper import WhisperTranscriber

        self.transcriber = WhisperTranscriber(
            settings.whisper_model,
            compute_type=settings.whisper_compute_type,
            cpu_threads=settings.whisper_threads,
            beam_size=settings.whisper_beam_size,
            window_s=settings.transcribe_window_s,
            speaker_model=settings.speaker_model_path,
        )
        self.diarize = settings.diarize
        self.summarizer = make_summarizer(settings.summarizer, settings.t5_model)

    def load(self) -> dict:
        self.transcriber.load()
        if self.diarize:  # a missing speaker model stops the engine at start-up, not later
            self.transcriber.speaker_encoder()
        if hasattr(self.summarizer, "load"):
            self.summarizer.load()
        return {"multilingual": self.transcriber.multilingual, "summarizer": self.summarizer.name}

    def run(self, request: dict, send: Callable[[dict], None]) -> object:
        """The answer to `request`; a streamed transcription first `send`s each segment."""
        op = request.pop("op")
        if op == "transcribe":
            path = Path(request.pop("path"))
            if request.pop("stream", False):
                request["on_segment"] = lambda s: send({"segment": asdict(s)})
            if request.pop("windows", False):
                request["on_window"] = lambda w: send({"window": w.as_dict()})
            done = request.pop("done", None)
            request["done"] = TranscribedWindow.from_dict(done) if done else None
            return self.transcriber.transcribe(path, **request).as_dict()
        if op == "decode":
            found = self.transcriber.decode(
                Path(request["path"]),
                language=request.get("language"),
                prompt=request.get("prompt"),
            )
            return [asdict(segment) for segment in found]
        if op == "summarize":
            return self.summarizer.summarize(request["text"])
        raise ValueError(f"unknown operation {op!r}")


def make_summarizer(kind: str, t5_model: Path | None) -> Summarizer:
    """`auto`: T5 when a model folder is configured, else extractive."""
    if kind == "t5" or (kind == "auto" and t5_model is not None):
        if t5_model is None:
            raise ValueError(
                "AUDIODAS_SUMMARIZER=t5 needs AUDIODAS_T5_MODEL (a CTranslate2 T5 folder)"
            )
        from audiodas.inference.models.t5 import T5Summarizer

        return T5Summarizer(t5_model)
    return ExtractiveSummarizer()


def main() -> None:
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    settings = Settings()
    with contextlib.suppress(OSError):
        os.nice(settings.heavy_work_nice)  # the API's processes come first
        if settings.heavy_work_idle_policy:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    sock = socket.socket(fileno=fd)
    models = Models(settings)
    wire.send(sock, {"ready": models.load()})
    while True:
        try:
            request = wire.receive(sock)
        except (EOFError, ConnectionError):
            return  # the parent closed the socket: done
        try:
            wire.send(sock, {"ok": models.run(request, lambda m: wire.send(sock, m))})
        except Exception as exc:  # noqa: BLE001 - reported to the caller, the process lives on
            wire.send(sock, {"error": f"{exc.__class__.__name__}: {exc}"[:500]})


if __name__ == "__main__":
    main()
