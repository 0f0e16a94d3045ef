"""The T5 summarizer's real loading and decoding code, on a tiny random T5."""

from __future__ import annotations

import pytest

from audiodas.inference.child import make_summarizer
from audiodas.inference.models.t5 import T5Summarizer
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


def test_import_t5_converts_a_hugging_face_checkpoint(tmp_path) -> None:
    """`audiodas models import-t5` runs CTranslate2's converter in the model build environment
    on a (tiny, random) Hugging Face T5 checkpoint; the summarizer then loads the result."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    build_python = ROOT / ".venv-build" / "bin" / "python"
    if not build_python.exists():
        if os.environ.get("CI"):
            pytest.fail("the model build environment is missing; `make test` creates it")
        pytest.skip("the model build environment is missing; `make test` creates it")
    checkpoint = tmp_path / "hf-t5"
    words = " ".join(normalized_words(TEXT) + ["summarize", ":"])
    subprocess.run(
        [str(build_python), str(ROOT / "tests" / "make_tiny_hf_t5.py"), str(checkpoint), words],
        check=True, capture_output=True,
    )  # fmt: skip
    output = tmp_path / "ct2-t5"
    done = subprocess.run(
        [sys.executable, "-m", "audiodas", "models", "import-t5", str(checkpoint),
         "--output", str(output), "--build-venv", str(ROOT / ".venv-build")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert f"AUDIODAS_T5_MODEL={output}" in done.stdout
    assert (output / "model.bin").exists() and (output / "tokenizer.json").exists()
    summary = T5Summarizer(output).summarize(TEXT)
    assert summary and len(summary) <= 50
