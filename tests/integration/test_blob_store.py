"""The BlobStore contract, on the local/shared-folder store: what the engine and the API rely on
whichever store is plugged in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiodas.adapters.storage import LocalBlobStore, temp_files
from audiodas.domain import Rejected


@pytest.fixture
def store(tmp_path: Path):
    blobs = LocalBlobStore(tmp_path / "data")
    yield blobs
    blobs.close()


def staged(store: LocalBlobStore, data: bytes):
    blob = store.stage(max_bytes=1 << 20)
    blob.write(data)
    blob.close()
    return blob


def test_a_put_blob_reads_back_whole_by_range_and_by_path(store) -> None:
    data = os.urandom(100_000)
    blob = staged(store, data)
    assert blob.size == len(data) and len(blob.sha256) == 64
    key = store.put(blob.path, "r1", "original.wav")
    assert not blob.path.exists()  # moved, not copied
    assert store.stat(key).st_size == len(data)
    assert store.open_range(key, 1000, 500) == data[1000:1500]
    assert store.open_range(key, len(data) - 10, 500) == data[-10:]  # short at the end
    assert store.local_path(key).read_bytes() == data
    assert not temp_files(store.root)


def test_put_replaces_atomically_and_delete_removes_every_blob(store) -> None:
    first = store.put(staged(store, b"one").path, "r1", "archive.m4a")
    second = store.put(staged(store, b"two").path, "r1", "archive.m4a")
    assert first == second and store.open_range(second, 0, 10) == b"two"
    store.put(staged(store, b"x").path, "r1", "echo.mp3")
    store.delete_recording("r1")
    with pytest.raises(FileNotFoundError):
        store.stat(first)
    store.delete_recording("r1")  # nothing left: no error


def test_staging_refuses_past_the_limit_and_discard_leaves_nothing(store) -> None:
    blob = store.stage(max_bytes=10)
    with pytest.raises(Rejected):
        blob.write(b"x" * 11)
    blob.discard()
    assert not temp_files(store.root)


def test_a_key_cannot_reach_outside_the_store(store) -> None:
    with pytest.raises(ValueError):
        store.local_path("../../etc/passwd")


def test_scratch_files_are_swept_only_once_their_process_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "data"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    scratch = Path(writer.stdout.readline().decode().strip())
    other = LocalBlobStore(root)  # another process on the same folder
    assert other.clean_tmp() == 0 and scratch.read_bytes() == b"partial"  # its owner lives
    writer.kill()  # dies without cleaning up
    writer.wait()
    assert other.clean_tmp() == 1 and not scratch.exists()
    other.close()


WRITER = """
import sys
from pathlib import Path
from audiodas.adapters.storage import LocalBlobStore
scratch = LocalBlobStore(Path(sys.argv[1])).scratch(".mp3")
scratch.write_bytes(b"partial")
print(scratch, flush=True)
sys.stdin.read()
"""
