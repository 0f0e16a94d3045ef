"""What transcription produces: small dataclasses, as faster-whisper returns them."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None  # S1, S2, ... (domain.speakers); None when not diarized


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    speaker: str | None = None


WAVEFORM_POINTS = 4000  # at most, whatever the length: what a page draws


@dataclass(frozen=True)
class Waveform:
    """The loudest level (0-255) of each 1/`peaks_per_s` second of a recording."""

    peaks_per_s: float
    peaks: bytes

    def reduced(self, points: int = WAVEFORM_POINTS) -> Waveform:
        """At most `points` peaks: each the loudest of as many consecutive ones as it takes."""
        group = -(-len(self.peaks) // points) if self.peaks else 1
        if group <= 1:
            return self
        peaks = bytes(max(self.peaks[i : i + group]) for i in range(0, len(self.peaks), group))
        return Waveform(self.peaks_per_s / group, peaks)

    def as_dict(self) -> dict:
        return {"peaks_per_s": self.peaks_per_s, "peaks": list(self.peaks)}

    @classmethod
    def from_dict(cls, data: dict) -> Waveform:
        return cls(data["peaks_per_s"], bytes(data["peaks"]))


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)  # only when word timestamps were asked for
    # Made from the audio decoded for transcription, so the file is decoded once for both.
    waveform: Waveform | None = None

    def segments_as_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.segments]

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "language": self.language,
            "segments": self.segments_as_dicts(),
            "words": [asdict(w) for w in self.words],
            "waveform": self.waveform.as_dict() if self.waveform else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        waveform = data.get("waveform")
        return cls(
            text=data["text"],
            language=data["language"],
            segments=[Segment(**s) for s in data["segments"]],
            words=[Word(**w) for w in data["words"]],
            waveform=Waveform.from_dict(waveform) if waveform else None,
        )

    @classmethod
    def from_parts(
        cls,
        segments: list[Segment],
        language: str | None,
        words: list[Word] | None = None,
        waveform: Waveform | None = None,
    ) -> Transcript:
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return cls(text, language, segments, words or [], waveform)


def words_by_segment(segments: list[Segment], words: list[Word]) -> list[list[Word]]:
    """Each segment's words: those starting from its start until the next segment's."""
    starts = [s.start for s in segments]
    grouped: list[list[Word]] = [[] for _ in segments]
    for word in words:
        i = segment_of(starts, word)
        if i >= 0:
            grouped[i].append(word)
    return grouped


def segment_of(starts: list[float], word: Word) -> int:
    """The index of the segment (by its start, as in `starts`) a word is said in: the last one
    starting by the word's start (-1 before the first)."""
    return bisect.bisect_right(starts, word.start + 0.01) - 1


@dataclass(frozen=True)
class TranscribedWindow:
    """One window of a recording, transcribed (a long recording is transcribed window by
    window, each stored as soon as it is done): its audio span, its segments and words (times
    from the recording's start; no speakers yet: they are settled over the whole recording at
    the end) and the language found."""

    start_s: float
    end_s: float
    language: str | None
    segments: list[Segment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "language": self.language,
            "segments": [asdict(s) for s in self.segments],
            "words": [asdict(w) for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict) -> TranscribedWindow:
        return cls(
            data["start_s"],
            data["end_s"],
            data["language"],
            [Segment(**s) for s in data["segments"]],
            [Word(**w) for w in data["words"]],
        )


def with_window(stored: Transcript, window: TranscribedWindow) -> Transcript:
    """The transcript so far with `window` in its place: what was stored from the window's start
    on is replaced, so storing a window again (a resumed or repeated transcription) never
    doubles it."""
    segments = [s for s in stored.segments if s.start < window.start_s] + window.segments
    words = [w for w in stored.words if w.start < window.start_s] + window.words
    return Transcript.from_parts(segments, stored.language or window.language, words)
