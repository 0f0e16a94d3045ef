"""The T5 summarizer's real loading and decoding code, on a tiny random T5."""

from __future__ import annotations

import pytest

from audiodas.adapters.summarizers import make_summarizer
from audiodas.adapters.t5 import T5Summarizer
from tests.support import normalized_words
from tests.tiny_t5 import build_tiny_t5

TEXT = (
    "inflation rose again as energy prices climbed and the central bank raised interest rates "
    "to cool demand while economists warned that growth could slow and unemployment could rise "
)


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    words = normalized_words(TEXT) + ["summarize", ":"]
    return build_tiny_t5(tmp_path_factory.mktemp("t5") / "tiny-t5", words)


def test_tiny_t5_loads_decodes_and_respects_the_limit(tiny_t5) -> None:
    summarizer = T5Summarizer(tiny_t5)
    first = summarizer.summarize(TEXT)
    assert first and len(first) <= 50
    assert first == summarizer.summarize(TEXT)  # beam search: deterministic
    # Decoded through the tokenizer: vocabulary words, no special tokens, whole words only.
    assert "<" not in first and set(first.split()) <= set(
        normalized_words(TEXT) + ["summarize", ":"]
    )
    assert summarizer.summarize("") is None


def test_long_transcripts_are_summarized_in_windows(tiny_t5) -> None:
    summarizer = T5Summarizer(tiny_t5)
    summarizer.load()
    long_text = TEXT * 40  # ~1000 tokens: more than one 512-token window
    assert len(summarizer._windows(long_text)) > 1
    assert all(len(w) <= 512 for w in summarizer._windows(long_text))
    summary = summarizer.summarize(long_text)
    assert summary and len(summary) <= 50


def test_auto_picks_t5_only_when_a_model_is_configured(tiny_t5) -> None:
    assert make_summarizer("auto", None).name == "extractive"
    assert make_summarizer("auto", tiny_t5).name == "t5"
    assert make_summarizer("extractive", tiny_t5).name == "extractive"
    with pytest.raises(ValueError):
        make_summarizer("t5", None)
