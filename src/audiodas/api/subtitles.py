"""Transcript renderings: plain text, SRT, WebVTT and JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from audiodas.domain import Segment

FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}


def timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: Sequence[Segment], names: Mapping[str, str] | None = None) -> str:
    """Each cue's text after its speaker's name ("Alice: ..."), when there is one."""
    blocks = []
    for i, s in enumerate(segments, start=1):
        speaker = _speaker(s, names)
        text = f"{speaker}: {s.text.strip()}" if speaker else s.text.strip()
        text = _srt_text(text)
        blocks.append(f"{i}\n{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment], names: Mapping[str, str] | None = None) -> str:
    """Each cue's text in a voice span of its speaker (<v Alice>...), when there is one."""
    blocks = []
    for s in segments:
        speaker = _speaker(s, names)
        text = _vtt_text(s.text.strip())
        text = f"<v {_vtt_text(speaker)}>{text}" if speaker else text
        blocks.append(f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(blocks)


def _speaker(segment: Segment, names: Mapping[str, str] | None) -> str | None:
    if segment.speaker is None:
        return None
    return (names or {}).get(segment.speaker) or segment.speaker


def _one_line(text: str) -> str:
    # A cue ends at a blank line: a line break in a name or a segment would start another cue.
    return " ".join(text.split())


def _vtt_text(text: str) -> str:
    # A cue's text is markup: & < > would start entities and tags (a name with ">" would end
    # the voice span early; "-->" would read as a cue's timing).
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# SRT has no escapes: players read <font>, <b> and {\an8} in a cue as styling, and a line with
# "-->" as another cue's timing. Those characters are shown as their look-alikes instead.
_SRT_PLAIN = str.maketrans({"<": "‹", ">": "›", "{": "(", "}": ")"})


def _srt_text(text: str) -> str:
    return _one_line(text).translate(_SRT_PLAIN)


def to_text(segments: Sequence[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip()) + "\n"
