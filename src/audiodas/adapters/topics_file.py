"""The topic definitions file (shared with the web app), packaged in audiodas/data/."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from audiodas.domain.topics import Topic

TOPICS_FILE = "topics.json"


def topics_path() -> Path:
    return Path(str(resources.files("audiodas") / "data" / TOPICS_FILE))


@lru_cache(maxsize=4)
def load_topics(path: Path | None = None) -> dict[str, Topic]:
    raw = json.loads((path or topics_path()).read_text())
    return {
        t["name"]: Topic(
            name=t["name"],
            label=t.get("label", t["name"].title()),
            description=t.get("description", ""),
            threshold=float(t["threshold"]),
            terms={k.lower(): float(v) for k, v in t["terms"].items()},
        )
        for t in raw["topics"]
    }
