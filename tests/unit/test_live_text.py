"""Which live text is settled (domain/live.py) and where speech pauses (services/live.py)."""

from __future__ import annotations

import math
import struct

import pytest

from audiodas.domain import Segment
from audiodas.domain.live import MAX_TAIL_S, settle
from audiodas.services.live import Pauses

A = Segment(0.0, 2.0, "It was the best of times,")
B = Segment(2.1, 4.0, "it was the worst of times.")
C = Segment(4.2, 5.0, "It was")


def test_a_sentence_followed_by_a_pause_is_settled_whole() -> None:
    settled = settle([A, B], [], start_s=0.0, end_s=4.3, pause_s=0.3)
    assert settled.finals == [A, B] and settled.partial == "" and settled.to_s == 4.3


def test_a_pause_inside_a_sentence_settles_nothing_until_it_is_long() -> None:
    settled = settle([A], [], start_s=0.0, end_s=2.3, pause_s=0.3)
    assert settled.finals == [] and settled.partial == A.text and settled.to_s == 0.0
    assert settle([A], [], start_s=0.0, end_s=2.9, pause_s=0.9).finals == [A]


def test_a_segment_two_decodings_agree_on_is_settled_once_another_follows() -> None:
    first = settle([A, Segment(2.1, 3.0, "it was the")], [], start_s=0.0, end_s=3.0, pause_s=0.0)
    assert first.finals == []  # nothing to agree with yet
    again = settle([A, B, C], first.rest, start_s=0.0, end_s=5.0, pause_s=0.0)
    assert again.finals == [A]
    assert again.partial == f"{B.text} {C.text}"
    assert again.to_s == pytest.approx((A.end + B.start) / 2)  # between them: no word cut
    changed = settle([Segment(0.0, 2.0, "It was the best of rhymes,"), B], first.rest,
                     start_s=0.0, end_s=4.1, pause_s=0.0)  # fmt: skip
    assert changed.finals == []  # the words moved: not settled


def test_a_long_tail_keeps_only_its_last_segment_open_and_an_endless_one_none() -> None:
    settled = settle([A, B, C], [], start_s=0.0, end_s=MAX_TAIL_S + 1, pause_s=0.0)
    assert settled.finals == [A, B] and settled.rest == [C]
    endless = Segment(0.0, 2 * MAX_TAIL_S + 1, "and so on")
    assert settle([endless], [], start_s=0.0, end_s=2 * MAX_TAIL_S + 1, pause_s=0.0).finals == [
        endless
    ]


def test_silence_is_passed_over_and_a_stop_settles_everything() -> None:
    quiet = settle([], [], start_s=10.0, end_s=15.0, pause_s=5.0)
    assert quiet.finals == [] and quiet.to_s == 15.0
    # A short silence is kept from where it began: speech may follow.
    assert settle([], [], start_s=10.0, end_s=15.0, pause_s=0.5).to_s == 14.5
    assert settle([A, C], [], start_s=0.0, end_s=5.0, pause_s=0.0, closing=True).finals == [A, C]


def pcm(*parts: tuple[str, float]) -> bytes:
    samples = []
    for kind, seconds in parts:
        count = int(seconds * 16_000)
        if kind == "tone":
            samples += [int(6000 * math.sin(2 * math.pi * 300 * n / 16_000)) for n in range(count)]
        else:  # a noisy room: quiet, not silent
            samples += [(-1) ** n * 40 for n in range(count)]
    return struct.pack(f"<{len(samples)}h", *samples)


def test_pauses_are_found_where_the_speech_stops() -> None:
    pauses = Pauses()
    audio = pcm(("tone", 1.0), ("quiet", 0.2), ("tone", 1.0), ("quiet", 0.5), ("tone", 0.5))
    for at in range(0, len(audio), 3200):  # in 0.1 s frames, as a client sends
        pauses.add(audio[at : at + 3200])
    assert [round(p.at_s, 2) for p in pauses.found] == [2.2]  # not the 0.2 s gap
    assert pauses.found[0].length_s == pytest.approx(0.5, abs=0.03)
    assert pauses.silence_s == 0.0
