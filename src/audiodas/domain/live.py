"""Live transcription's one decision: which of the words decoded so far are settled (sent as
`final`, never changed) and which may still change (`partial`).

The audio not yet settled (the tail) is decoded again every second or so. A segment is settled
when a later one follows it and two decodings in a row agree on it (LocalAgreement, as
whisper_streaming does, on segments); the whole tail is settled at a pause after a sentence's
end, at any long pause, and when the session stops. A tail that grows past MAX_TAIL_S keeps
only its last segment open, so no decoding grows without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from audiodas.domain.transcript import Segment

SENTENCE_PAUSE_S = 0.3  # silence after a sentence's last word: the sentence is said
LONG_PAUSE_S = 0.8  # silence after anything: what was said is said
MAX_TAIL_S = 12.0  # unsettled audio kept open at most (each decoding reads it all)
_SENTENCE_END = re.compile(r"[.?!…][\"')\]]*$")


@dataclass(frozen=True)
class Settled:
    finals: list[Segment]  # newly settled, in order
    rest: list[Segment]  # decoded but open: the partial text, and what the next decoding is
    # compared with
    to_s: float  # where the next tail starts
    partial: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "partial", " ".join(s.text for s in self.rest))


def settle(
    decoded: list[Segment],
    previous: list[Segment],
    *,
    start_s: float,
    end_s: float,
    pause_s: float,
    closing: bool = False,
) -> Settled:
    """`decoded`: the tail [start_s, end_s) decoded now, in session times; `previous`: what the
    last decoding of the tail from the same start left open; `pause_s`: the silence at its end."""
    said = bool(decoded) and _SENTENCE_END.search(decoded[-1].text) is not None
    overlong = end_s - start_s > 2 * MAX_TAIL_S  # one segment without end: cut where it is
    if closing or overlong or pause_s >= LONG_PAUSE_S or (said and pause_s >= SENTENCE_PAUSE_S):
        return Settled(decoded, [], end_s)
    if not decoded:
        # Nothing said (yet): silence older than a pause needs no second hearing.
        return Settled([], [], max(start_s, end_s - pause_s) if pause_s else start_s)
    agreed = 0
    for before, now in zip(previous, decoded[:-1], strict=False):
        if _words(before.text) != _words(now.text):
            break
        agreed += 1
    if end_s - start_s > MAX_TAIL_S:
        agreed = max(agreed, len(decoded) - 1)
    if agreed == 0:
        return Settled([], decoded, start_s)
    finals, rest = decoded[:agreed], decoded[agreed:]
    cut = (finals[-1].end + rest[0].start) / 2  # between them: neither word is cut
    return Settled(finals, rest, min(max(cut, start_s), end_s))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())
