"""Corrections a reader makes to a transcript: a segment's words, and which speaker says it.

The corrected transcript is the recording's transcript from then on (renderings, exports,
search, the summary's source); the machine's is kept beside it, unchanged, segment for segment
(a correction never adds or removes a segment). Word times survive an edit where the words
match; a word the reader added is placed in the gap its neighbours leave.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from audiodas.domain.errors import Rejected
from audiodas.domain.recording import RecordingStatus, StageStatus
from audiodas.domain.speakers import MAX_SPEAKERS
from audiodas.domain.transcript import Segment, Transcript, Word, words_by_segment

MAX_TEXT = 2000  # a segment is a sentence or two: a longer body is not an edit of one
MAX_CHANGES = 1000  # one request: a whole turn moved at once
_LABEL = re.compile(r"^S([1-9][0-9]?)$")
_NOT_TEXT = {"Cc", "Cs"}


@dataclass(frozen=True)
class Correction:
    """The new text and/or speaker of the segment at `index` (None: left as it is)."""

    index: int
    text: str | None = None
    speaker: str | None = None


def parse(body: object) -> list[Correction]:
    """A request's `{"segments": [{"id": 3, "text": "..."}, {"id": 4, "speaker": "S2"}]}`."""
    items = body.get("segments") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or len(items) > MAX_CHANGES:
        raise Rejected(
            Rejected.INVALID_REQUEST,
            'the body is {"segments": [{"id": 3, "text": "...", "speaker": "S2"}, ...]}'
            f" with 1 to {MAX_CHANGES} changes",
        )
    corrections = []
    for item in items:
        index = item.get("id") if isinstance(item, dict) else None
        text, speaker = (
            (item.get("text"), item.get("speaker")) if isinstance(item, dict) else (0, 0)
        )
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(text, str | None)
            or not isinstance(speaker, str | None)
            or (text is None and speaker is None)
        ):
            raise Rejected(
                Rejected.INVALID_REQUEST,
                "each change names a segment by its id (a number) and gives a text, a speaker"
                f" or both: {str(item)[:80]}",
            )
        corrections.append(Correction(index, text, speaker))
    return corrections


def apply_corrections(
    transcript: Transcript, corrections: Sequence[Correction], machine: Transcript | None = None
) -> Transcript:
    """The transcript with the corrections made, checked against it (a 4xx `Rejected` if one
    names no segment, empties one, or gives a speaker label that is not S1 to S20). An edited
    segment's words take their times from the words the machine heard (`machine`, the
    transcript as transcription made it, if it was corrected before)."""
    segments = list(transcript.segments)
    grouped = words_by_segment(segments, transcript.words)
    source = machine or transcript
    heard = words_by_segment(source.segments, source.words)
    if len(heard) != len(grouped):
        heard = grouped
    for correction in corrections:
        i = correction.index
        if not 0 <= i < len(segments):
            raise Rejected(
                Rejected.NOT_FOUND,
                f"this transcript has no segment {i} (its segments are 0 to {len(segments) - 1})",
            )
        segment = segments[i]
        speaker = _checked_speaker(correction.speaker) or segment.speaker
        text = segment.text if correction.text is None else _checked_text(correction.text)
        if text != segment.text:
            grouped[i] = retimed(heard[i], text, segment.start, segment.end)
        grouped[i] = [replace(w, speaker=speaker) for w in grouped[i]]
        segments[i] = replace(segment, text=text, speaker=speaker)
    words = [w for said in grouped for w in said]
    return Transcript.from_parts(segments, transcript.language, words, transcript.waveform)


def retimed(words: list[Word], text: str, start: float, end: float) -> list[Word]:
    """The words of `text` with times: a word that matches one said keeps its times; the
    others share the gap between their neighbours (the segment's own edges at its ends). A
    segment transcribed without word times stays without."""
    if not words:
        return []
    tokens = text.split()
    keys = [_key(t) for t in tokens]
    matcher = difflib.SequenceMatcher(a=[_key(w.word) for w in words], b=keys, autojunk=False)
    timed: list[Word | None] = [None] * len(tokens)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            said = words[block.a + k]
            timed[block.b + k] = Word(tokens[block.b + k], said.start, said.end, said.speaker)
    result: list[Word] = []
    k = 0
    while k < len(tokens):
        if timed[k] is not None:
            result.append(timed[k])  # type: ignore[arg-type]
            k += 1
            continue
        gap_end = next((j for j in range(k, len(tokens)) if timed[j] is not None), len(tokens))
        after = result[-1].end if result else start
        before = timed[gap_end].start if gap_end < len(tokens) else end  # type: ignore[union-attr]
        before = max(before, after)
        step = (before - after) / (gap_end - k)
        for n, j in enumerate(range(k, gap_end)):
            at = round(after + n * step, 3)
            result.append(Word(tokens[j], at, round(at + step, 3)))
        k = gap_end
    return result


def summarized_again(
    before: Transcript, after: Transcript, status: RecordingStatus, summarize: StageStatus | None
) -> bool:
    """Whether a correction sends the recording back for its summary: the text changed and a
    finished recording's summary was made (or failed) from the old one. A recording still in
    flight summarizes what is stored when its turn comes."""
    return (
        after.text != before.text
        and status.finished
        and summarize in (StageStatus.DONE, StageStatus.FAILED)
    )


def machine_beside(
    corrected: Sequence[Segment], machine: Sequence[Segment] | None
) -> list[Segment | None]:
    """For each segment of the corrected transcript, the machine's where it differs."""
    if machine is None or len(machine) != len(corrected):  # uncorrected (or transcribed anew)
        return [None] * len(corrected)
    return [m if m != s else None for s, m in zip(corrected, machine, strict=True)]


def _checked_text(text: str) -> str:
    # One line, without control characters or lone surrogates (which no database stores).
    one_line = " ".join(text.split())
    cleaned = "".join(ch for ch in one_line if unicodedata.category(ch) not in _NOT_TEXT)
    if not cleaned:
        raise Rejected(Rejected.INVALID_FIELD, "a segment's text cannot be empty")
    if len(cleaned) > MAX_TEXT:
        raise Rejected(
            Rejected.INVALID_FIELD, f"a segment's text has at most {MAX_TEXT} characters"
        )
    return cleaned


def _checked_speaker(speaker: str | None) -> str | None:
    if speaker is None:
        return None
    found = _LABEL.match(speaker)
    if found is None or int(found.group(1)) > MAX_SPEAKERS:
        raise Rejected(
            Rejected.INVALID_FIELD,
            f"a speaker is a label S1 to S{MAX_SPEAKERS} (name it with PUT .../speakers):"
            f" {speaker[:40]!r}",
        )
    return speaker


def _key(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())
