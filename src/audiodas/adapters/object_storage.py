"""BlobStore on S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph RGW, R2), so that
API nodes and workers share recordings without a shared folder. `AUDIODAS_STORAGE_URL=
s3://bucket/prefix`; the endpoint and credentials as the AWS tools read them
(`AUDIODAS_S3_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).

boto3, because it is the reference client every S3-compatible store is tested against, its
transfer manager uploads a large file in parts (multipart, in parallel) and retries each, and
it signs presigned URLs; obstore is faster but younger, and its Range and presign behaviour
against non-AWS stores is less proven.

Keys are the folder store's ("recordings/<id>/<name>", under the prefix), so the database reads
the same whichever store holds the files. Tools (FFmpeg, the models, the API's zero-copy Range
reads) work on local files: `local_path` keeps a copy in a bounded scratch cache
(`AUDIODAS_SCRATCH_MB`, least recently used first out); uploads and tools' outputs are written
in the local temp folder (`scratch`), then `put` in whole. An upload to keep is sent on its
way as it arrives (`StreamedUpload`: a multipart upload, 8 MiB parts) while the local copy the
probe reads is written; keeping it then sends its last part, and the local copy goes.

Failures to reach the store are translated at the edge (adapters/failures.py): the API
answers 503 with Retry-After and the engine waits, as for the database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat as stat_module
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from audiodas.adapters.failures import at_the_edge
from audiodas.adapters.storage import LocalBlobStore, StagedFile

_PART = 8 << 20  # multipart above this, in parts of this
_PARTS_IN_FLIGHT = 2  # per upload: bounds its memory (3 parts) and keeps the link busy
_PRESIGNED_S = 3600
ORIGINAL = "original"  # an upload's object: named before the probe, so without an extension


def parse_url(url: str) -> tuple[str, str]:
    """s3://bucket/prefix -> (bucket, "prefix/"); the prefix may be empty."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


@at_the_edge
class S3BlobStore:
    def __init__(
        self,
        url: str,
        scratch: Path,
        *,
        scratch_mb: int,
        endpoint_url: str | None = None,
        region: str | None = None,
        redirect_to: str | None = None,
    ) -> None:
        """`redirect_to`: send players to presigned URLs at this endpoint (one they reach;
        AWS's own when empty) rather than through the API."""
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket, self.prefix = parse_url(url)
        session = boto3.session.Session()
        if session.get_credentials() is None:  # else every request fails, each its own way
            raise ValueError(
                "object storage needs credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or another source the AWS tools read)"
            )
        self.client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                s3={"addressing_style": "path"},  # what self-hosted stores serve
            ),
        )
        self.redirects = redirect_to is not None
        # Presigning is local (no request); the URL names the endpoint browsers reach.
        self.signer = session.client(
            "s3",
            endpoint_url=redirect_to or endpoint_url,
            region_name=region or "us-east-1",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )
        self.transfer = TransferConfig(multipart_threshold=_PART, multipart_chunksize=_PART)
        self.local = LocalBlobStore(scratch)  # this process's temp folder, as for a folder store
        self.cache = scratch / "cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.scratch_bytes = scratch_mb << 20
        self._bucket_seen = False
        self.senders = ThreadPoolExecutor(4, thread_name_prefix="s3-parts")

    def _name(self, key: str) -> str:
        return self.prefix + key

    def stage(self, max_bytes: int, *, to_keep: bool = False) -> StagedFile:
        staged = self.local.stage(max_bytes)
        if not to_keep:
            return staged
        return StreamedUpload(self, staged.path, max_bytes)

    def keep(self, staged: StagedFile, name: str) -> str:
        """An upload's object is `recordings/<id>/original` whatever its format: it was named
        (and sent) before the probe told the format."""
        if isinstance(staged, StreamedUpload):
            return staged.finish()
        return self.put(staged.path, staged.id, ORIGINAL)

    def scratch(self, suffix: str) -> Path:
        return self.local.scratch(suffix)

    def put(self, source: Path, recording_id: str, name: str) -> str:
        """Uploaded whole (in parts above 8 MiB), then the local file is removed: a worker
        fetches what its tools read (`local_path`)."""
        key = f"recordings/{recording_id}/{name}"
        try:
            self.ensure_bucket()
            self.client.upload_file(str(source), self.bucket, self._name(key), Config=self.transfer)
        finally:
            source.unlink(missing_ok=True)
        return key

    def ensure_bucket(self) -> None:
        if not self._bucket_seen:
            self._make_bucket()

    def _make_bucket(self) -> None:
        """A new deployment's store gets its bucket with its first file (where the key may
        make buckets; elsewhere the bucket is the operator's to make)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            with contextlib.suppress(ClientError):  # made meanwhile by another node
                self.client.create_bucket(Bucket=self.bucket)
        self._bucket_seen = True

    def stat(self, key: str) -> os.stat_result:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            raise _missing(exc, key) from exc
        mtime = head["LastModified"].timestamp()
        size = head["ContentLength"]
        return os.stat_result(
            (stat_module.S_IFREG | 0o644, 0, 0, 1, 0, 0, size, mtime, mtime, mtime)
        )

    def open_range(self, key: str, start: int, length: int) -> bytes:
        answer = self.client.get_object(
            Bucket=self.bucket, Key=self._name(key), Range=f"bytes={start}-{start + length - 1}"
        )
        return answer["Body"].read()

    def local_path(self, key: str) -> Path:
        """The cached copy, fetched whole if it is not here."""
        path = self._cached(key)
        if path.exists():
            os.utime(path)  # used: last out of the cache
            return path
        partial = self.local.scratch(".part")
        try:
            self.client.download_file(
                self.bucket, self._name(key), str(partial), Config=self.transfer
            )
        except ClientError as exc:
            partial.unlink(missing_ok=True)
            raise _missing(exc, key) from exc
        self._keep(partial, key)
        return path

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        self._cached(key).unlink(missing_ok=True)

    def delete_recording(self, recording_id: str) -> None:
        folder = self._name(f"recordings/{recording_id}/")
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        shutil.rmtree(self.cache / "recordings" / recording_id, ignore_errors=True)

    def presigned(self, key: str, *, content_type: str, disposition: str) -> str:
        """Valid for an hour: a player seeking later in a long recording asks the API again
        (its URL is the API's), and is sent a fresh one."""
        return self.signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._name(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=_PRESIGNED_S,
        )

    def clean_tmp(self) -> int:
        """The local temp folders of processes that are gone, and the multipart uploads that
        no process finished within a day (a killed API node's); how many files went."""
        removed = self.local.clean_tmp()
        day_ago = datetime.now(UTC) - timedelta(days=1)
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self._name("recordings/")
        )
        with contextlib.suppress(ClientError):  # no bucket yet: nothing to abort
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < day_ago:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed += 1
        return removed

    def close(self) -> None:
        self.senders.shutdown(wait=True)
        self.local.close()

    # The scratch cache ------------------------------------------------------------------------

    def _cached(self, key: str) -> Path:
        path = (self.cache / key).resolve()
        if not path.is_relative_to(self.cache.resolve()):
            raise ValueError(f"key escapes the cache: {key}")
        return path

    def _keep(self, source: Path, key: str) -> None:
        """Move a local copy of `key` into the cache, making room least recently used first
        (AUDIODAS_SCRATCH_MB is at least the largest upload: any file fits)."""
        self._make_room(source.stat().st_size)
        target = self._cached(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def _make_room(self, size: int) -> None:
        files = [p for p in self.cache.rglob("*") if p.is_file()]
        held = sum(p.stat().st_size for p in files)
        for path in sorted(files, key=lambda p: p.stat().st_mtime):
            if held + size <= self.scratch_bytes:
                return
            held -= path.stat().st_size
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _missing(exc: ClientError, key: str) -> Exception:
    """FileNotFoundError for an object that is not there (as the folder store raises)."""
    code = exc.response.get("Error", {}).get("Code")
    return FileNotFoundError(key) if code in ("404", "NoSuchKey", "NotFound") else exc


@at_the_edge
class StreamedUpload(StagedFile):
    """An upload meant to become a recording, sent to the store while it is received: each
    8 MiB becomes a part of a multipart upload (at most two in flight, from the store's
    sender threads, so receiving does not wait for the store), while the local copy the probe
    reads is written and hashed as for any upload. `finish` sends the last part and completes
    the object, then removes the local copy; `discard` aborts the multipart upload. An upload
    under 8 MiB is sent whole by `finish`. What a killed process leaves (parts of an
    unfinished multipart upload) `clean_tmp` aborts a day later."""

    def __init__(self, store: S3BlobStore, path: Path, max_bytes: int) -> None:
        super().__init__(path, max_bytes)
        self.store = store
        self.key = f"recordings/{self.id}/{ORIGINAL}"
        self._part = bytearray()
        self._upload_id: str | None = None
        self._sending: deque[Future[dict]] = deque()
        self._sent: list[dict] = []

    def write(self, chunk: bytes) -> None:
        super().write(chunk)
        self._part += chunk
        if len(self._part) >= _PART:
            self._send_part()

    def finish(self) -> str:
        """The whole upload in the store under `self.key`; the local copy removed."""
        store, name = self.store, self.store._name(self.key)
        try:
            if self._upload_id is None:
                store.ensure_bucket()
                with self.path.open("rb") as body:
                    store.client.put_object(Bucket=store.bucket, Key=name, Body=body)
            else:
                if self._part:
                    self._send_part()
                while self._sending:
                    self._sent.append(self._sending.popleft().result())
                store.client.complete_multipart_upload(
                    Bucket=store.bucket,
                    Key=name,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._sent},
                )
                self._upload_id = None
        except BaseException:
            self.discard()
            raise
        self.path.unlink(missing_ok=True)
        return self.key

    def discard(self) -> None:
        super().discard()
        while self._sending:  # the parts on their way end before the upload is aborted
            sending = self._sending.popleft()
            if not sending.cancel():
                with contextlib.suppress(Exception):
                    sending.result()
        if self._upload_id is not None:
            with contextlib.suppress(Exception):  # unreachable: clean_tmp aborts it later
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket,
                    Key=self.store._name(self.key),
                    UploadId=self._upload_id,
                )
            self._upload_id = None

    def _send_part(self) -> None:
        store = self.store
        if self._upload_id is None:
            store.ensure_bucket()
            created = store.client.create_multipart_upload(
                Bucket=store.bucket, Key=store._name(self.key)
            )
            self._upload_id = created["UploadId"]
        while len(self._sending) >= _PARTS_IN_FLIGHT:
            self._sent.append(self._sending.popleft().result())  # its error, if any, is ours
        number = len(self._sent) + len(self._sending) + 1
        body, self._part = bytes(self._part), bytearray()
        self._sending.append(store.senders.submit(self._upload_part, number, body))

    def _upload_part(self, number: int, body: bytes) -> dict:
        store = self.store
        answer = store.client.upload_part(
            Bucket=store.bucket,
            Key=store._name(self.key),
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}
