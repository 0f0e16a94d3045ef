"""The file store: one folder per recording under the data folder, written atomically.

Every file is first written under `tmp/` and renamed into place, so a reader or a crash never
sees half a file; start-up removes what a crash left in `tmp/`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from audiodas.domain import Rejected


class StagedFile:
    """A file being received: counts and hashes while it writes, refuses past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()/discard()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise Rejected(
                Rejected.TOO_LARGE,
                f"file is larger than the limit of {self.max_bytes / 1048576:g} MiB",
            )
        self._hash.update(chunk)
        self._file.write(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.recordings = root / "recordings"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.recordings.mkdir(parents=True, exist_ok=True)

    def stage(self, max_bytes: int) -> StagedFile:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        os.close(fd)
        return StagedFile(Path(name), max_bytes)

    def temp_path(self, suffix: str) -> Path:
        """A fresh path under tmp/ for a file made elsewhere (e.g. by FFmpeg)."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=suffix)
        os.close(fd)
        return Path(name)

    def place(self, source: Path, recording_id: str, filename: str) -> str:
        """Move a finished file into the recording's folder; returns its path relative to root."""
        folder = self.recordings / recording_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / filename
        os.replace(source, target)
        _fsync_dir(folder)
        return str(target.relative_to(self.root))

    def resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"path escapes the data folder: {relative}")
        return path

    def remove_recording(self, recording_id: str) -> None:
        shutil.rmtree(self.recordings / recording_id, ignore_errors=True)

    def clean_tmp(self) -> int:
        """Remove what an interrupted write left behind; returns how many files went."""
        removed = 0
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed

    def files(self) -> list[Path]:
        """Every stored file (tmp included), for audits and tests."""
        return sorted(p for p in self.root.rglob("*") if p.is_file() and p.parent != self.root)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB pieces."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
