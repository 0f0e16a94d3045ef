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


class StateFile:
    """The StateReport port: this engine process's file (`engines/<pid>.json`); a write that
    fails (the run folder gone) is skipped, the next one tries again."""

    interval_s = INTERVAL_S

    def __init__(self, run_path: Path) -> None:
        self.path = engines_folder(run_path) / f"{os.getpid()}.json"

    def write(self, state: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_state(self.path, state)
        except OSError:
            pass

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def live_states(run_path: Path) -> list[dict]:
    """The last report of every engine heard from within STALE_AFTER_S (the others are gone or
    wedged)."""
    states = []
    now = time.time()
    for path in sorted(engines_folder(run_path).glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # removed or being replaced meanwhile
        if now - state.get("reported_at", 0) <= STALE_AFTER_S:
            states.append(state)
    return states


def slot_totals(states: list[dict]) -> dict[str, dict[str, float]]:
    """Slots by kind over these engines: in use and capacity summed, peak of the busiest."""
    totals: dict[str, dict[str, float]] = {}
    for state in states:
        for kind, slots in state["slots"].items():
            total = totals.setdefault(kind, {"in_use": 0, "capacity": 0, "peak": 0})
            total["in_use"] += slots["in_use"]
            total["capacity"] += slots["capacity"]
            total["peak"] = max(total["peak"], slots["peak"])
    return totals
