"""Speech recognition with faster-whisper (CTranslate2), the model found by path (no hub).

Imports numpy (through faster-whisper and inference.models.pcm) only when used: it runs in the
inference processes, never in the API's or the engine's."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from audiodas.config import SPEAKER_MODEL, bundled_whisper_model
from audiodas.domain.speakers import label
from audiodas.domain.transcript import Segment, TranscribedWindow, Transcript, Word


class WhisperTranscriber:
    """One model per inference process, which runs one call at a time."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 1,
        num_workers: int = 1,
        beam_size: int = 5,
        window_s: float = 60.0,
        speaker_model: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else bundled_whisper_model()
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.beam_size = beam_size
        self.window_s = window_s
        self.speaker_model = speaker_model
        self._model = None
        self._speaker_encoder = None
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

    def speaker_encoder(self):  # type: ignore[no-untyped-def]
        from audiodas.inference.models.speakers import SpeakerEncoder

        with self._lock:
            if self._speaker_encoder is None:  # the venv's, unless given (Settings)
                self._speaker_encoder = SpeakerEncoder(self.speaker_model or SPEAKER_MODEL)
            return self._speaker_encoder

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
        diarize: bool = False,
        speakers: int | None = None,
        task: str = "transcribe",
        on_segment: Callable[[Segment], None] | None = None,
        done: TranscribedWindow | None = None,
        on_window: Callable[[TranscribedWindow], None] | None = None,
    ) -> Transcript:
        """Blocking (`task="translate"`: into English, a multilingual model only). Decodes and
        transcribes window by window (inference.models.pcm); a recording shorter than one window is
        transcribed whole, exactly as faster-whisper would. With `diarize`, segments and words
        carry their speaker (`speakers`: how many, if known). `on_segment` is given each
        segment as soon as it is decoded, `on_window` each window once it is done (both before
        speakers are labelled). `done`: what an interrupted transcription of this file stored,
        from its start: those windows are not transcribed again (only listened to for the
        speakers), and the result is what one uninterrupted run gives."""
        import ctranslate2

        from audiodas.inference.models.pcm import PeakMeter, windows
        from audiodas.inference.models.speakers import Diarizer

        model = self.load()
        asked = {"language": language, "prompt": prompt}  # for a start over (below)
        multilingual = self.multilingual
        if not multilingual:
            language = None  # an English-only model takes no language hint
        parts, words = list(done.segments) if done else [], list(done.words) if done else []
        if done is not None:
            language, prompt = done.language if multilingual else None, None
        meter = PeakMeter()
        diarizer = Diarizer(self.speaker_encoder()) if diarize else None
        for index, window in enumerate(windows(path, self.window_s)):
            meter.add(window.samples)
            if done is not None and window.end_s <= done.end_s + _SAME_S:
                if diarizer is not None:  # transcribed before: its voices still count
                    diarizer.add(window.samples, window.start_s, _within(done.segments, window))
                continue
            if done is not None and window.start_s < done.end_s - _SAME_S:
                # Cut elsewhere than the stored windows were (another window size): from the
                # start again, rather than a transcript stitched across two cuts.
                return self.transcribe(
                    path, **asked, word_timestamps=word_timestamps, diarize=diarize,
                    speakers=speakers, task=task, on_segment=on_segment, on_window=on_window,
                )  # fmt: skip
            # A window whose decoding looks wrong is decoded again by sampling at a higher
            # temperature (as OpenAI's temperature 0 does). Seeded per window, the same audio
            # gives the same transcript whatever the process ran before (a French clip's
            # translation was English once, gibberish the next time), and a resumed run
            # decodes a window as an uninterrupted one did.
            ctranslate2.set_random_seed(index)
            segments, info = model.transcribe(
                window.samples,
                beam_size=self.beam_size,
                language=language,
                initial_prompt=prompt,
                task=task,
                vad_filter=True,  # speechless audio gives no segments rather than invented words
                word_timestamps=word_timestamps,
            )
            at, found, found_words = window.start_s, len(parts), len(words)
            for s in segments:
                if s.text.strip():
                    parts.append(Segment(_time(at + s.start), _time(at + s.end), s.text.strip()))
                    if on_segment is not None:
                        on_segment(parts[-1])
                words += [
                    Word(w.word.strip(), _time(at + w.start), _time(at + w.end))
                    for w in s.words or []
                ]
            if diarizer is not None:
                diarizer.add(window.samples, at, parts[found:])
            if on_window is not None:
                said = info.language if multilingual else "en"
                on_window(
                    TranscribedWindow(at, window.end_s, said, parts[found:], words[found_words:])
                )
            # Later windows keep the first one's language and take no prompt: the prompt
            # describes the start of the recording.
            language, prompt = info.language, None
        language = language if multilingual else "en"
        if diarizer is not None:
            parts, words = label(parts, words, diarizer.turns(speakers))
        return Transcript.from_parts(parts, language, words, meter.waveform())

    def decode(
        self, path: Path, *, language: str | None = None, prompt: str | None = None
    ) -> list[Segment]:
        """A short stretch of live audio (raw 16 kHz mono 16-bit little-endian PCM at `path`),
        its segments' times from its start. No windows, no speakers: what a live session
        decodes each second or so (api/live.py)."""
        import numpy as np

        samples = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
        if samples.size == 0:
            return []
        segments, _ = self.load().transcribe(
            samples,
            beam_size=self.beam_size,
            language=language if self.multilingual else None,
            initial_prompt=prompt,
            vad_filter=True,  # silence gives no segments rather than invented words
            condition_on_previous_text=False,  # a repeated phrase cannot feed itself
        )
        return [
            Segment(_time(s.start), _time(s.end), s.text.strip())
            for s in segments
            if s.text.strip()
        ]


def _time(seconds: float) -> float:
    return round(seconds, 3)


_SAME_S = 0.001  # window ends within this are the same cut (times are stored to the ms)


def _within(segments: list[Segment], window) -> list[Segment]:  # type: ignore[no-untyped-def]
    return [s for s in segments if window.start_s <= s.start < window.end_s]
