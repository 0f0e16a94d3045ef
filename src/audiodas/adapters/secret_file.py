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
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_hex(32).encode())
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another node made it first: theirs is the secret
    finally:
        aside.unlink()
    return path.read_bytes().strip()
