"""Speaker labels: which voice each transcript segment and word is in, named S1, S2, ... in
order of first appearance, and the names a user gives them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from audiodas.domain.errors import Rejected
from audiodas.domain.transcript import Segment, Word, segment_of

MAX_SPEAKERS = 20  # an upload's `speakers` field
MAX_NAME = 64


@dataclass(frozen=True)
class Turn:
    """A stretch of audio in one voice (the diarizer's voices are numbers, in no order)."""

    start: float
    end: float
    voice: int


def label(
    segments: list[Segment], words: list[Word], turns: list[Turn]
) -> tuple[list[Segment], list[Word]]:
    """Segments and words with their speaker: the voice that overlaps them most (a segment
    without any takes its predecessor's; a word without any, its segment's)."""
    if not turns:
        return segments, words
    voices = [_voice(s.start, s.end, turns) for s in segments]
    for i, voice in enumerate(voices):
        if voice is None:
            voices[i] = voices[i - 1] if i else next((v for v in voices if v is not None), 0)
    names: dict[int, str] = {}
    for voice in voices:
        names.setdefault(voice, f"S{len(names) + 1}")  # type: ignore[arg-type]
    labelled = [replace(s, speaker=names[v]) for s, v in zip(segments, voices, strict=True)]
    starts = [s.start for s in labelled]
    named_words = []
    for word in words:
        voice = _voice(word.start, word.end, turns)
        if voice not in names:  # no voice, or one no segment took: the segment's speaker
            speaker = labelled[max(0, segment_of(starts, word))].speaker if labelled else None
        else:
            speaker = names[voice]
        named_words.append(replace(word, speaker=speaker))
    return labelled, named_words


def speakers_of(segments: list[Segment]) -> list[str]:
    """The labels, in order of first appearance."""
    return list(dict.fromkeys(s.speaker for s in segments if s.speaker))


def check_count(value: str | None) -> int | None:
    """An upload's `speakers` field: how many voices the recording has, if the user knows."""
    if value is None or not value.strip():
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_SPEAKERS:
        raise Rejected(
            Rejected.INVALID_FIELD, f"speakers must be a whole number from 1 to {MAX_SPEAKERS}"
        )
    return count


def check_names(names: dict[str, str], labels: list[str]) -> dict[str, str]:
    """Names for some of the recording's labels (an empty name takes the label back)."""
    cleaned = {}
    for speaker, name in names.items():
        if speaker not in labels:
            known = ", ".join(labels) or "none: it has no speaker labels"
            raise Rejected(Rejected.INVALID_FIELD, f"no speaker {speaker!r} here (it has {known})")
        name = "".join(ch for ch in name if ch.isprintable()).strip()
        if len(name) > MAX_NAME:
            raise Rejected(
                Rejected.INVALID_FIELD, f"a speaker's name has at most {MAX_NAME} characters"
            )
        cleaned[speaker] = name
    return cleaned


def _voice(start: float, end: float, turns: list[Turn]) -> int | None:
    overlap: Counter[int] = Counter()
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.voice] += shared
    return overlap.most_common(1)[0][0] if overlap else None
