"""Speaker labels from voice turns: which segment and word is whose, named in order of first
appearance; the count an upload gives and the names users give are checked."""

from __future__ import annotations

import pytest

from audiodas.domain import Rejected, Segment
from audiodas.domain.speakers import Turn, check_count, check_names, label, speakers_of
from audiodas.domain.transcript import Word

SEGMENTS = [Segment(0.0, 2.0, "Hello."), Segment(2.2, 4.0, "Hi."), Segment(4.5, 6.0, "Bye.")]


def test_segments_take_the_voice_they_overlap_most_named_by_first_appearance() -> None:
    # The diarizer's voice numbers mean nothing: voice 7 speaks first, so it is S1.
    turns = [Turn(0.0, 1.6, 7), Turn(0.5, 2.1, 7), Turn(1.9, 3.5, 3), Turn(4.4, 6.0, 7)]
    segments, _ = label(SEGMENTS, [], turns)
    assert [s.speaker for s in segments] == ["S1", "S2", "S1"]
    assert [s.text for s in segments] == ["Hello.", "Hi.", "Bye."]  # nothing else changes
    assert speakers_of(segments) == ["S1", "S2"]


def test_words_follow_their_own_voice_so_a_turn_inside_a_segment_shows() -> None:
    segment = [Segment(0.0, 4.0, "Yes. No.")]
    words = [Word("Yes.", 0.2, 0.8), Word("No.", 3.0, 3.6), Word("Er", 9.0, 9.2)]
    turns = [Turn(0.0, 1.6, 0), Turn(0.5, 2.1, 0), Turn(2.5, 4.0, 1)]
    segments, labelled = label(segment, words, turns)
    assert segments[0].speaker == "S1"
    # A voice no segment took names no one: its word, and a word no turn covers, take their
    # segment's speaker.
    assert [w.speaker for w in labelled] == ["S1", "S1", "S1"]
    turns = [Turn(0.0, 1.6, 0), Turn(0.5, 2.1, 0), Turn(0.0, 1.0, 1), Turn(2.5, 4.0, 1),
             Turn(5.0, 6.0, 1), Turn(5.0, 6.0, 1)]  # fmt: skip
    segments, labelled = label(
        [Segment(0.0, 4.0, "Yes. No."), Segment(5.0, 6.0, "Right.")], words, turns
    )
    assert [s.speaker for s in segments] == ["S1", "S2"]
    assert [w.speaker for w in labelled] == ["S1", "S2", "S2"]


def test_without_turns_nothing_is_labelled_and_a_silent_segment_takes_the_previous_voice() -> None:
    assert label(SEGMENTS, [], []) == (SEGMENTS, [])
    segments, _ = label(SEGMENTS, [], [Turn(0.0, 2.0, 5), Turn(4.5, 6.0, 6)])
    assert [s.speaker for s in segments] == ["S1", "S1", "S2"]


@pytest.mark.parametrize(("value", "count"), [(None, None), ("", None), (" ", None), ("1", 1),
                                              ("2", 2), ("20", 20)])  # fmt: skip
def test_the_speaker_count_of_an_upload(value, count) -> None:
    assert check_count(value) == count


@pytest.mark.parametrize("value", ["0", "21", "-1", "two", "1.5", "1e3"])
def test_a_bad_speaker_count_is_refused(value) -> None:
    with pytest.raises(Rejected) as refused:
        check_count(value)
    assert refused.value.code == Rejected.INVALID_FIELD


def test_names_only_for_labels_the_recording_has_and_cleaned() -> None:
    assert check_names({"S1": "  Ann\u0007 Lee ", "S2": ""}, ["S1", "S2"]) == {
        "S1": "Ann Lee",
        "S2": "",
    }
    with pytest.raises(Rejected):
        check_names({"S3": "X"}, ["S1", "S2"])
    with pytest.raises(Rejected):
        check_names({"S1": "x" * 65}, ["S1"])
