"""Transcript renderings: plain text, SRT, WebVTT, Markdown, DOCX (and JSON, in speech.py).
Text, Markdown and DOCX read as turns: who speaks, from when, what they say."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audiodas.domain import Segment

FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class Document:
    """What a document rendering says besides the transcript."""

    title: str
    about: str  # the file, its length, when it was uploaded
    summary: str | None


@dataclass(frozen=True)
class Turn:
    speaker: str | None  # a name, or the label; None when speakers are not told apart
    start: float
    text: str


def turns(segments: Sequence[Segment], names: Mapping[str, str] | None = None) -> list[Turn]:
    """Consecutive segments of one speaker joined; without speakers, a segment each."""
    found: list[Turn] = []
    for s in segments:
        text = _one_line(s.text)
        if not text:
            continue
        speaker = _speaker(s, names)
        if found and speaker is not None and found[-1].speaker == speaker:
            found[-1] = Turn(speaker, found[-1].start, f"{found[-1].text} {text}")
        else:
            found.append(Turn(speaker, s.start, text))
    return found


def clock(seconds: float) -> str:
    """0:05, 12:30, 1:02:03."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def to_text(segments: Sequence[Segment], names: Mapping[str, str] | None = None) -> str:
    """A line per turn: "[0:03] Alice: ..." (no name when speakers are not told apart)."""
    lines = [
        f"[{clock(t.start)}] {t.speaker + ': ' if t.speaker else ''}{t.text}"
        for t in turns(segments, names)
    ]
    return "\n".join(lines) + "\n"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|])")


def _md(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def to_markdown(
    document: Document, segments: Sequence[Segment], names: Mapping[str, str] | None = None
) -> str:
    parts = [f"# {_md(_one_line(document.title))}", "", f"*{_md(document.about)}*", ""]
    if document.summary:
        parts += ["## Summary", "", _md(_one_line(document.summary)), ""]
    parts += ["## Transcript", ""]
    for t in turns(segments, names):
        who = f"**{_md(t.speaker)}** " if t.speaker else ""
        parts += [f"{who}[{clock(t.start)}]: {_md(t.text)}", ""]
    return "\n".join(parts)


def to_docx(
    document: Document, segments: Sequence[Segment], names: Mapping[str, str] | None = None
) -> bytes:
    import docx  # python-docx: loaded by the one request that asks for a Word file

    out = docx.Document()
    out.core_properties.title = document.title
    out.add_heading(_one_line(document.title), level=1)
    out.add_paragraph().add_run(document.about).italic = True
    if document.summary:
        out.add_heading("Summary", level=2)
        out.add_paragraph(_one_line(document.summary))
    out.add_heading("Transcript", level=2)
    for t in turns(segments, names):
        paragraph = out.add_paragraph()
        if t.speaker:
            paragraph.add_run(t.speaker).bold = True
            paragraph.add_run(" ")
        paragraph.add_run(f"[{clock(t.start)}] ").italic = True
        paragraph.add_run(t.text)
    body = io.BytesIO()
    out.save(body)
    return body.getvalue()


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
