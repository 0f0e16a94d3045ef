"""A file's waveform measured on its own, for a recording transcribed before waveforms were
kept (transcription measures it from the audio it decodes anyway). Asked for by an HTTP
request, so it runs in a short-lived process of its own: the HTTP processes never load numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audiodas.domain.transcript import Waveform
from audiodas.inference.pool import inference_environment


def measure_waveform(path: Path, timeout_s: float = 600.0) -> Waveform:
    """Decodes the whole file in windows (a 4-hour recording holds one window in memory)."""
    done = subprocess.run(
        [sys.executable, "-m", "audiodas.inference.models.pcm", str(path)],
        env=inference_environment(threads=1),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return Waveform.from_dict(json.loads(done.stdout))
