"""domain.corrections: a reader's edit keeps the times of the words the machine heard."""

from __future__ import annotations

import pytest

from audiodas.domain import Rejected, Segment, Transcript
from audiodas.domain.corrections import Correction, apply_corrections, retimed
from audiodas.domain.transcript import Word

HEARD = [Word("the", 1.0, 1.2), Word("savings", 1.2, 1.8), Word("loose", 1.8, 2.2),
         Word("value.", 2.4, 3.0)]  # fmt: skip


def test_matching_words_keep_their_times_and_others_fill_the_gaps() -> None:
    words = retimed(HEARD, "The savings lose their value.", 1.0, 3.0)
    assert [w.word for w in words] == ["The", "savings", "lose", "their", "value."]
    assert (words[0].start, words[0].end) == (1.0, 1.2)  # case and punctuation do not matter
    assert (words[1].start, words[1].end) == (1.2, 1.8)
    assert (words[4].start, words[4].end) == (2.4, 3.0)
    # "lose their" share the gap from "savings" to "value.": in order, inside it.
    assert 1.8 <= words[2].start < words[3].start < words[3].end <= 2.4


def test_words_removed_and_added_at_the_ends_stay_inside_the_segment() -> None:
    words = retimed(HEARD, "So savings", 0.5, 3.0)
    assert [(w.word, w.start) for w in words] == [("So", 0.5), ("savings", 1.2)]
    assert words[0].end <= 1.2
    tail = retimed(HEARD, "the savings loose value. Indeed.", 1.0, 3.5)
    assert tail[-1].word == "Indeed." and 3.0 <= tail[-1].start <= tail[-1].end <= 3.5


def test_a_segment_heard_without_word_times_stays_without() -> None:
    assert retimed([], "anything at all", 0.0, 1.0) == []


def test_corrections_are_checked_against_the_transcript() -> None:
    transcript = Transcript.from_parts([Segment(0.0, 1.0, "Hi.", "S1")], "en")
    fixed = apply_corrections(transcript, [Correction(0, "  Hi   there. ", "S2")])
    assert fixed.segments == [Segment(0.0, 1.0, "Hi there.", "S2")] and fixed.text == "Hi there."
    odd = apply_corrections(transcript, [Correction(0, "Hi\x00 th\ud800ere\n\u200dnow")])
    assert odd.segments[0].text == "Hi there \u200dnow"  # a joiner is text; NUL is not
    for bad in (Correction(1, "x"), Correction(0, " "), Correction(0, speaker="S0")):
        with pytest.raises(Rejected):
            apply_corrections(transcript, [bad])
