"""Topic check: does a transcript talk about the topic its uploader said it would?

The same rule runs in the browser (web app) on the first seconds of audio, so it stays simple:
lowercase words, weighted terms (single words or phrases, a plural `s`/`es` also counts),
score = weighted hits per 100 words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
MIN_WORDS = 20  # short texts are scored as if this long, so one lucky word is not a verdict


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    description: str
    threshold: float
    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicVerdict:
    expected: str
    score: float
    matched: list[str]
    threshold: float

    @property
    def on_topic(self) -> bool:
        return self.score >= self.threshold

    def as_dict(self) -> dict:
        return {
            "expected": self.expected,
            "score": self.score,
            "matched": self.matched,
            "threshold": self.threshold,
            "on_topic": self.on_topic,
        }


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def score(topic: Topic, text: str) -> TopicVerdict:
    tokens = words(text)
    counts: dict[str, int] = {}
    total = 0.0
    for term, weight in topic.terms.items():
        hits = _count(tokens, term.split())
        if hits:
            counts[term] = hits
            total += weight * hits
    value = round(100 * total / max(len(tokens), MIN_WORDS), 2)
    matched = sorted(counts, key=lambda t: (-counts[t] * topic.terms[t], t))
    return TopicVerdict(topic.name, value, matched, topic.threshold)


def _count(tokens: list[str], phrase: list[str]) -> int:
    n = len(phrase)
    return sum(
        all(_same(tokens[i + k], phrase[k]) for k in range(n)) for i in range(len(tokens) - n + 1)
    )


def _same(word: str, term: str) -> bool:
    return word == term or word == term + "s" or word == term + "es"
