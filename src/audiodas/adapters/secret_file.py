"""The deployment's secret, generated once into the data folder that every node shares."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create(path: Path) -> bytes:
    """The secret in `path`; made there first if absent. Nodes starting together agree: the
    file appears whole (written aside, then linked in) and the first link wins."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    # A name of its own: processes of different containers share pids (each has a pid 7), and
    # two writing one aside file failed a node's start (the other had removed it).
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_hex(32).encode())
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another node made it first: theirs is the secret
    finally:
        aside.unlink(missing_ok=True)
    return path.read_bytes().strip()
