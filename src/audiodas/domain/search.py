"""Finding recordings by what was said: the query as terms, and what a match carries.

A query is words and "quoted phrases"; everything else (operators, punctuation, control
characters, an unbalanced quote) is plain text between words, so no query is malformed: each
database's index gets terms made only of letters and digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from audiodas.domain.errors import Rejected

MAX_QUERY = 500  # characters
MAX_TERMS = 16
_WORD = re.compile(r"[^\W_]+")  # letters and digits: "q3_report.wav" is q3, report, wav
_PHRASE = re.compile(r'"([^"]*)"')


class Field(StrEnum):
    """Where a match was found."""

    FILENAME = "filename"
    TITLE = "title"
    SPEAKERS = "speakers"  # the names given to its speakers
    SUMMARY = "summary"
    TRANSCRIPT = "transcript"  # a segment: the match has its start time


@dataclass(frozen=True)
class Query:
    """Every term must occur in the recording (filename, summary or transcript); a term of
    several words is a phrase (the words adjacent, in order)."""

    terms: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Match:
    """The best passage of a recording for a query: `text` with the matched words at
    `highlights` (character offsets, end exclusive)."""

    field: Field
    text: str
    highlights: list[tuple[int, int]] = field(default_factory=list)
    start_s: float | None = None


@dataclass(frozen=True)
class SearchHit:
    recording_id: str
    updated_at: datetime
    match: Match


@dataclass(frozen=True)
class SearchPage:
    """Hits, best first; a recording appears once, with its best passage."""

    items: list[SearchHit]
    next_cursor: str | None


def parse_query(text: str) -> Query:
    if len(text) > MAX_QUERY:
        raise Rejected(Rejected.INVALID_FIELD, f"q is longer than {MAX_QUERY} characters")
    terms: list[tuple[str, ...]] = []
    at = 0
    for quoted in _PHRASE.finditer(text):
        terms += [(w,) for w in words(text[at : quoted.start()])]
        if phrase := tuple(words(quoted[1])):
            terms.append(phrase)
        at = quoted.end()
    terms += [(w,) for w in words(text[at:])]  # an unbalanced quote is plain text
    unique = tuple(dict.fromkeys(terms))
    if not unique:
        raise Rejected(Rejected.INVALID_FIELD, "q has no words to search for")
    if len(unique) > MAX_TERMS:
        raise Rejected(Rejected.INVALID_FIELD, f"q has more than {MAX_TERMS} words or phrases")
    return Query(unique)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())
