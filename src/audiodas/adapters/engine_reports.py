"""The engine's state as a small JSON file per engine process in the run folder, rewritten
every few seconds: how `/healthz` and `/metrics` in the API's processes see the engine without
asking it anything."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

INTERVAL_S = 2.0
STALE_AFTER_S = 5 * INTERVAL_S  # an engine not heard from for this long is gone or wedged


def engines_folder(run_path: Path) -> Path:
    return run_path / "engines"


def write_state(path: Path, state: dict) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(state))
    os.replace(temp, path)


def read_states(run_path: Path) -> list[dict]:
    """Every engine's last report; each with `stale` set when it is too old."""
    states = []
    now = time.time()
    for path in sorted(engines_folder(run_path).glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # removed or being replaced meanwhile
        state["stale"] = now - state.get("reported_at", 0) > STALE_AFTER_S
        states.append(state)
    return states
