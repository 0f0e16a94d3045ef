"""The processes that serve HTTP or fork FFmpeg never load numpy or the model libraries: their
native thread pools would spin beside the event loop, and their memory would be paid by every
HTTP process (docs/ARCHITECTURE.md). import-linter checks the imports as written (`make
check`); this checks what a process really loads, lazy imports included."""

from __future__ import annotations

import json
import subprocess
import sys

MODEL_LIBRARIES = ("numpy", "faster_whisper", "ctranslate2", "tokenizers", "onnxruntime")

LOAD_THE_HTTP_APP_AND_THE_ENGINE = """
import json, sys
from audiodas.api.app import create_app
from audiodas.config import Settings
from audiodas.engine import Engine
from audiodas.commands import serve
from audiodas.testing import in_memory_runtime
app = create_app(runtime=in_memory_runtime(Settings(data_dir=sys.argv[1])))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


def test_the_http_app_and_the_engine_load_no_numpy_and_no_model_library(tmp_path) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_THE_HTTP_APP_AND_THE_ENGINE, str(tmp_path), *MODEL_LIBRARIES],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(loaded.stdout) == []


def test_the_check_sees_a_model_library_when_one_is_loaded(tmp_path) -> None:
    """The same check, with the inference process's code imported on purpose, finds numpy."""
    code = LOAD_THE_HTTP_APP_AND_THE_ENGINE.replace(
        "from audiodas.commands import serve", "import audiodas.inference.models.whisper, numpy"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), *MODEL_LIBRARIES],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "numpy" in json.loads(loaded.stdout)
