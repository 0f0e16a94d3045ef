"""The BlobStore contract, on the folder store and on S3-compatible object storage (a real
SeaweedFS): what the engine and the API rely on whichever store is plugged in."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audiodas.adapters.storage import LocalBlobStore, temp_files
from audiodas.domain import Rejected


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """A store whose local files (temp folder, scratch cache) are under tmp_path/data."""
    if request.param == "folder":
        blobs = LocalBlobStore(tmp_path / "data")
    else:
        from audiodas.adapters.object_storage import S3BlobStore

        s3 = request.getfixturevalue("seaweedfs")
        blobs = S3BlobStore(
            f"s3://{s3.BUCKET}/{tmp_path.name}", tmp_path / "data", scratch_mb=256,
            endpoint_url=s3.endpoint, region="us-east-1",
        )  # fmt: skip
    yield blobs
    blobs.close()


def staged(store: LocalBlobStore, data: bytes):
    blob = store.stage(max_bytes=1 << 20)
    blob.write(data)
    blob.close()
    return blob


def test_a_put_blob_reads_back_whole_by_range_and_by_path(store, tmp_path) -> None:
    data = os.urandom(100_000)
    blob = staged(store, data)
    assert blob.size == len(data) and len(blob.sha256) == 64
    key = store.put(blob.path, "r1", "original.wav")
    assert not blob.path.exists()  # moved, not copied
    assert store.stat(key).st_size == len(data)
    assert store.open_range(key, 1000, 500) == data[1000:1500]
    assert store.open_range(key, len(data) - 10, 500) == data[-10:]  # short at the end
    assert store.local_path(key).read_bytes() == data
    assert not temp_files(tmp_path / "data")


def test_a_kept_upload_reads_back_and_leaves_no_local_copy(store, tmp_path) -> None:
    """What the API does with an upload: received in 1 MiB pieces, closed, probed, kept."""
    data = os.urandom((20 << 20) + 12345)  # several 8 MiB parts and a short last one
    blob = store.stage(max_bytes=64 << 20, to_keep=True)
    for at in range(0, len(data), 1 << 20):
        blob.write(data[at : at + (1 << 20)])
    blob.close()
    assert blob.path.read_bytes() == data  # what the probe reads
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    key = store.keep(blob, "original.wav")
    assert key.startswith(f"recordings/{blob.id}/")
    assert store.stat(key).st_size == len(data)
    assert store.open_range(key, (8 << 20) - 5, 10) == data[(8 << 20) - 5 : (8 << 20) + 5]
    assert store.local_path(key).read_bytes() == data
    assert not temp_files(tmp_path / "data")


def test_object_storage_receives_an_upload_while_it_arrives(seaweedfs, tmp_path) -> None:
    """The parts of an upload to keep are in the store before its last byte arrives; an
    upload refused after all (the probe, the size limit) leaves no object and no part."""
    from audiodas.adapters.object_storage import S3BlobStore

    store = S3BlobStore(
        f"s3://{seaweedfs.BUCKET}/{tmp_path.name}", tmp_path / "data", scratch_mb=256,
        endpoint_url=seaweedfs.endpoint,
    )  # fmt: skip
    client = seaweedfs.client()

    def parts_stored() -> int:
        uploads = client.list_multipart_uploads(Bucket=seaweedfs.BUCKET, Prefix=tmp_path.name)
        return sum(
            len(client.list_parts(Bucket=seaweedfs.BUCKET, Key=u["Key"], UploadId=u["UploadId"])
                .get("Parts", []))
            for u in uploads.get("Uploads", [])
        )  # fmt: skip

    try:
        blob = store.stage(max_bytes=64 << 20, to_keep=True)
        for _ in range(33):  # 33 MiB: four 8 MiB parts full, one being filled
            blob.write(os.urandom(1 << 20))
        deadline = time.monotonic() + 10
        while parts_stored() < 3 and time.monotonic() < deadline:  # two may still be in flight
            time.sleep(0.05)
        assert parts_stored() >= 3
        assert seaweedfs.keys(f"{tmp_path.name}/") == []  # no object until it is kept
        blob.discard()  # refused after all
        assert parts_stored() == 0 and seaweedfs.keys(f"{tmp_path.name}/") == []
        assert not temp_files(tmp_path / "data")
    finally:
        store.close()


def test_put_replaces_atomically_and_delete_removes_every_blob(store) -> None:
    first = store.put(staged(store, b"one").path, "r1", "archive.m4a")
    second = store.put(staged(store, b"two").path, "r1", "archive.m4a")
    assert first == second and store.open_range(second, 0, 10) == b"two"
    store.put(staged(store, b"x").path, "r1", "echo.mp3")
    store.delete_recording("r1")
    with pytest.raises(FileNotFoundError):
        store.stat(first)
    store.delete_recording("r1")  # nothing left: no error


def test_staging_refuses_past_the_limit_and_discard_leaves_nothing(store, tmp_path) -> None:
    blob = store.stage(max_bytes=10)
    with pytest.raises(Rejected):
        blob.write(b"x" * 11)
    blob.discard()
    assert not temp_files(tmp_path / "data")


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


def test_object_storage_keeps_local_copies_within_its_scratch_budget(seaweedfs, tmp_path) -> None:
    """Tools read local copies: fetched whole on first use, the least recently used going
    first once the cache would pass AUDIODAS_SCRATCH_MB; the objects stay in the store."""
    from audiodas.adapters.object_storage import S3BlobStore

    store = S3BlobStore(
        f"s3://{seaweedfs.BUCKET}/{tmp_path.name}", tmp_path / "data", scratch_mb=256,
        endpoint_url=seaweedfs.endpoint,
    )  # fmt: skip
    try:
        size = 100 << 20
        keys = [
            store.put(staged_file(tmp_path, size, n), f"r{n}", "original.wav") for n in range(3)
        ]
        assert not [p for p in store.cache.rglob("*") if p.is_file()]  # put keeps no copy
        assert seaweedfs.keys(f"{tmp_path.name}/") == [f"{tmp_path.name}/{k}" for k in keys]
        paths = [store.local_path(key) for key in keys]  # fetched whole, one after the other
        assert [p.exists() for p in paths] == [False, True, True]  # the first made room
        assert sum(p.stat().st_size for p in paths[1:]) <= 256 << 20
        first = store.local_path(keys[0])  # fetched again, whole
        assert first.stat().st_size == size and first.read_bytes()[:8] == bytes([0] * 8)
        assert not paths[1].exists()  # the least recently used went
        store.delete_recording("r0")
        assert not first.exists() and f"{tmp_path.name}/{keys[0]}" not in seaweedfs.keys()
    finally:
        store.close()


def test_an_unreachable_object_store_is_unavailable_not_an_error(tmp_path, monkeypatch) -> None:
    """Nothing listening: StoreUnavailable (the API answers 503 with Retry-After, the engine
    waits), not a failure of the request or of a stage."""
    from audiodas.adapters.object_storage import S3BlobStore
    from audiodas.domain import StoreUnavailable
    from tests.support import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "audiodas")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "audiodas")
    store = S3BlobStore(
        "s3://recordings/x", tmp_path / "data", scratch_mb=256,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    try:
        with pytest.raises(StoreUnavailable):
            store.stat("recordings/r1/original.wav")
        with pytest.raises(StoreUnavailable):
            store.put(staged_file(tmp_path, 10, 0), "r1", "original.wav")
    finally:
        store.close()


def test_object_storage_without_credentials_says_so_at_start(tmp_path, monkeypatch) -> None:
    from audiodas.adapters.object_storage import S3BlobStore

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no cloud to ask here
    with pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        S3BlobStore("s3://recordings/x", tmp_path / "data", scratch_mb=256,
                    endpoint_url="http://127.0.0.1:9")  # fmt: skip


def staged_file(tmp_path: Path, size: int, n: int) -> Path:
    path = tmp_path / f"file{n}"
    with path.open("wb") as f:
        f.truncate(size)  # zeros
    return path


WRITER = """
import sys
from pathlib import Path
from audiodas.adapters.storage import LocalBlobStore
scratch = LocalBlobStore(Path(sys.argv[1])).scratch(".mp3")
scratch.write_bytes(b"partial")
print(scratch, flush=True)
sys.stdin.read()
"""
