"""What transcription produces: small dataclasses, as faster-whisper returns them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)  # only when word timestamps were asked for

    def segments_as_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.segments]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        return cls(
            text=data["text"],
            language=data["language"],
            segments=[Segment(**s) for s in data["segments"]],
            words=[Word(**w) for w in data["words"]],
        )

    @classmethod
    def from_parts(
        cls, segments: list[Segment], language: str | None, words: list[Word] | None = None
    ) -> Transcript:
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return cls(text=text, language=language, segments=segments, words=words or [])
