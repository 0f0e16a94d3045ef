"""BlobStore on a local or shared folder: one folder per recording under the data folder,
written atomically; a blob's key is its path relative to the data folder.

Every file is first written under `tmp/` and renamed into place, so a reader or a crash never
sees half a file. Each process writes in a temp folder of its own (`tmp/<pid>-<random>/`), held
with an exclusive lock while it lives, so any number of API and engine processes can share a
data folder: start-up removes only the folders whose lock is free (their process is gone).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from audiodas.adapters.failures import at_the_edge
from audiodas.domain import Rejected


@at_the_edge
class StagedFile:  # a StagedBlob
    """A file being received: counts and hashes while it writes, refuses past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.id = uuid.uuid4().hex
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
        with contextlib.suppress(OSError):  # closing flushes, which fails again on a full disk
            self._file.close()
        self.path.unlink(missing_ok=True)


_LOCK = ".lock"


@at_the_edge
class LocalBlobStore:
    redirects = False  # the API serves the files (zero-copy Range reads)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_root = root / "tmp"
        self.recordings = root / "recordings"
        self.recordings.mkdir(parents=True, exist_ok=True)
        self.tmp = self.tmp_root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir(parents=True)
        self._lock = _try_lock(self.tmp / _LOCK)
        assert self._lock is not None, "a fresh folder is never locked"

    def stage(self, max_bytes: int, *, to_keep: bool = False) -> StagedFile:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        os.close(fd)
        return StagedFile(Path(name), max_bytes)

    def keep(self, staged: StagedFile, name: str) -> str:  # type: ignore[override]
        return self.put(staged.path, staged.id, name)

    def scratch(self, suffix: str) -> Path:
        """A fresh path in this process's temp folder, for a file made elsewhere (FFmpeg)."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=suffix)
        os.close(fd)
        return Path(name)

    def put(self, source: Path, recording_id: str, name: str) -> str:
        folder = self.recordings / recording_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        os.replace(source, target)
        _fsync_dir(folder)
        return str(target.relative_to(self.root))

    def stat(self, key: str) -> os.stat_result:
        return os.stat(self.local_path(key))

    def open_range(self, key: str, start: int, length: int) -> bytes:
        with open(self.local_path(key), "rb") as file:
            return os.pread(file.fileno(), length, start)

    def local_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key escapes the data folder: {key}")
        return path

    def delete_recording(self, recording_id: str) -> None:
        shutil.rmtree(self.recordings / recording_id, ignore_errors=True)

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    def presigned(self, key: str, *, content_type: str, disposition: str) -> str:
        raise NotImplementedError("a folder has no URLs of its own: the API serves it")

    def clean_tmp(self) -> int:
        """Remove the temp folders of processes that are gone (what their interrupted writes
        left); returns how many files went. Live processes' folders stay untouched."""
        removed = 0
        for folder in self.tmp_root.iterdir():
            if folder == self.tmp:
                continue
            if folder.is_dir():
                lock = _try_lock(folder / _LOCK)
                if lock is None:
                    continue  # its process is alive
                removed += sum(1 for p in folder.iterdir() if p.name != _LOCK)
                shutil.rmtree(folder, ignore_errors=True)
                os.close(lock)
            else:  # a loose file from an older layout
                folder.unlink(missing_ok=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Remove this process's temp folder (on a clean stop)."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._lock)


def temp_files(root: Path) -> list[Path]:
    """Files in every process's temp folder (the locks aside): what writes left behind."""
    return sorted(p for p in (root / "tmp").rglob("*") if p.is_file() and p.name != _LOCK)


def _try_lock(path: Path) -> int | None:
    """An open, exclusively locked descriptor on `path`, or None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


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
