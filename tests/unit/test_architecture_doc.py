"""docs/ARCHITECTURE.md names only modules that exist: a move or a rename that leaves it behind
fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_module_the_architecture_names_exists() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`([\w/.\-]+\.py)`", text))
    modules = [
        p.relative_to(ROOT).as_posix()
        for folder in ("src", "web", "tests", "bench")
        for p in (ROOT / folder).rglob("*.py")
        if "node_modules" not in p.parts
    ]
    missing = {n for n in named if not any(m == n or m.endswith("/" + n) for m in modules)}
    assert named and not missing
