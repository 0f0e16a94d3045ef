"""Room kept beside a SQLite database so that a DELETE still works on a full disk.

Deleting a row writes to the write-ahead log first: on a disk with no byte left, even a delete
fails, though deleting is how a user frees space. The recording's files are removed first
(services/recordings.py), but a small recording frees less than a delete of its row, its
stages, variants and index entries logs. So the database keeps a reserve file of
`SIZE` beside it: released when a delete finds the disk full, made again (when there is room)
by the next write that succeeds.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger("audiodas.database")

SIZE = 1 << 20  # a delete logs tens of KiB: room for many


class Reserve:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def beside(cls, engine: Engine) -> Reserve:
        """The reserve of a SQLite file database; none (a no-op) for PostgreSQL or in memory."""
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return cls(None)
        return cls(Path(f"{database}-reserve"))

    def keep(self) -> None:
        """Make the reserve if it is missing and there is room (else try again later)."""
        if self.path is None or self.path.exists():
            return
        partial = self.path.with_name(self.path.name + ".tmp")
        try:
            with partial.open("wb") as f:
                f.write(bytes(SIZE))  # written, not sparse: the blocks are really taken
            partial.rename(self.path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()

    def release(self) -> bool:
        """Give the reserve's room back to the disk; False if there was none to give."""
        if self.path is None:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning("the disk is full: the database's reserve (%s) was released", self.path)
        return True
