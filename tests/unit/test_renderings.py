"""Subtitles say what was said and who said it, whatever a speaker was named: a name is text,
never a cue's timing, a new cue or styling."""

from __future__ import annotations

from audiodas.api.renderings import to_srt, to_vtt
from audiodas.domain import Segment

HOSTILE = {
    "S1": "00:00:00,000 --> 00:09:00,000",
    "S2": "<font color=red>Boss</font>\n\n99\n00:00:01,000 --> 00:00:02,000\n{\\an8}",
}
SEGMENTS = [
    Segment(0.0, 1.0, "Hello.", speaker="S1"),
    Segment(1.0, 2.0, "Hi <b>there</b>.", speaker="S2"),
    Segment(2.0, 3.0, "Bye -->\nnow.", speaker="S1"),
    Segment(3.0, 4.0, "Bye.", speaker="S2"),
]


def cues(text: str, header: str = "") -> list[list[str]]:
    return [block.splitlines() for block in text.removeprefix(header).strip().split("\n\n")]


def test_srt_names_and_text_stay_inside_their_cue() -> None:
    srt = cues(to_srt(SEGMENTS, HOSTILE))
    assert [len(cue) for cue in srt] == [3, 3, 3, 3]  # number, timing, one line of text
    assert [cue[0] for cue in srt] == ["1", "2", "3", "4"]
    for cue in srt:
        assert "-->" in cue[1] and "-->" not in cue[2] and not set("<>{}") & set(cue[2])
    assert srt[1][2].startswith("‹font color=red›Boss‹/font›") and "Hi ‹b›there‹/b›." in srt[1][2]


def test_vtt_names_and_text_stay_inside_their_cue() -> None:
    vtt = cues(to_vtt(SEGMENTS, HOSTILE), "WEBVTT")
    assert [len(cue) for cue in vtt] == [2, 2, 2, 2]  # timing, one line of text
    for cue in vtt:
        assert "-->" in cue[0] and "-->" not in cue[1]
        assert cue[1].startswith("<v ") and cue[1].count("<") == 1  # the voice span's own
    assert "&lt;font color=red&gt;Boss" in vtt[1][1]
