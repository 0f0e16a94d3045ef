"""What the API says of the installed Whisper model without loading it (no numpy, no model
code: the API's processes import this, never `inference/models`)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from audiodas.config import bundled_whisper_model

# Whisper's multilingual vocabularies have 51,865 tokens or more; the English-only ones 51,864.
_MULTILINGUAL_VOCABULARY = 51_865


@dataclass(frozen=True)
class ModelInfo:
    """What the API says of the installed Whisper model without loading it."""

    name: str  # "whisper-tiny.en" for the bundled one, else its folder's name
    multilingual: bool


@functools.cache
def model_info(model_path: str | None) -> ModelInfo:
    folder = Path(model_path) if model_path else bundled_whisper_model()
    name = "whisper-tiny.en" if not model_path else folder.name
    if (folder / "vocabulary.json").exists():
        size = len(json.loads((folder / "vocabulary.json").read_text()))
    else:
        with (folder / "vocabulary.txt").open(encoding="utf-8") as vocabulary:
            size = sum(1 for _ in vocabulary)
    return ModelInfo(name, size >= _MULTILINGUAL_VOCABULARY)
