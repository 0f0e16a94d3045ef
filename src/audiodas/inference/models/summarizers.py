"""Summaries of at most 50 characters, behind a small interface."""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol

SUMMARY_LIMIT = 50

_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves said says one two also
    oh yes well like get got go going gone let us upon""".split()
)
_WORD = re.compile(r"[A-Za-z0-9']+")


class Summarizer(Protocol):
    name: str

    def summarize(self, transcript: str) -> str | None:
        """At most SUMMARY_LIMIT characters, whole words; None for an empty transcript."""
        ...


def fit(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Cut at the last word boundary that fits, without trailing punctuation."""
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text[: limit + 1]
        text = cut[: cut.rfind(" ")] if " " in cut else ""
    return text.strip(" ,;:-")


class ExtractiveSummarizer:
    """Picks the sentence or phrase whose content words are most frequent in the whole
    transcript. No weights, deterministic: same transcript, same summary."""

    name = "extractive"

    def summarize(self, transcript: str) -> str | None:
        words = [w.lower() for w in _WORD.findall(transcript)]
        if not words:
            return None
        weights = Counter(w for w in words if w not in _STOPWORDS and len(w) > 2)
        best, best_score = "", -1.0
        for candidate in _candidates(transcript):
            fitted = fit(candidate)
            content = [w.lower() for w in _WORD.findall(fitted)]
            if not content:
                continue
            score = sum(weights[w] for w in content) / (len(content) ** 0.5)
            if score > best_score:  # strict: the earliest wins ties
                best, best_score = fitted, score
        return best or fit(transcript) or None


def _candidates(transcript: str) -> list[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", transcript) if s.strip()]
    phrases = [p.strip() for s in sentences for p in re.split(r"[,;:]\s+", s) if p.strip()]
    return sentences + [p for p in phrases if p not in sentences]
