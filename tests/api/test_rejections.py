"""Bad input gets the right 4xx with a JSON body, and nothing stored is harmed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import API, upload
from tests.support import assert_error


@pytest.fixture
def client(make_client):
    # Small limits so that "too large" and "too long" are cheap to cause.
    return make_client(max_upload_mb=2, max_duration_s=30)


def post_file(client, path: Path, name: str | None = None) -> httpx.Response:
    return upload(client, path, name)


@pytest.mark.parametrize(
    "kind", ["text", "image", "truncated_wav", "truncated_mp3", "truncated_m4a", "corrupt"]
)
def test_not_audio_is_415(client, stored, audio_files, kind: str) -> None:
    # Named as audio: the server looks at the bytes, not the name.
    assert_error(
        post_file(client, audio_files[kind], name="clip.mp3"), 415, "unsupported_media_type"
    )


def test_empty_file_is_400(client, stored, audio_files) -> None:
    assert_error(post_file(client, audio_files["empty"]), 400, "empty_file")


def test_no_file_is_400(client, stored) -> None:
    assert_error(client.post(API, data={"domain": "economics"}), 400, "missing_file")
    assert_error(client.post(API, content=b"raw bytes"), 400, "missing_file")
    assert_error(client.post(API, files={"other": ("a.wav", b"x")}), 400, "missing_file")


def test_bad_domain_is_400(client, stored, audio_files) -> None:
    with audio_files["short_mp3"].open("rb") as f:
        r = client.post(API, files={"file": f}, data={"domain": "<script>"})
    assert_error(r, 400, "invalid_field")


def test_too_large_is_413_before_the_body_is_read(client, stored, tmp_path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (8 << 20))  # 8 MiB against a 2 MiB limit
    assert_error(post_file(client, big), 413, "file_too_large")


@pytest.mark.parametrize(
    "chunks",
    [
        64,  # 64 x 64 KiB = 4 MiB: refused while the body streams in
        33,  # 2 MiB + 64 KiB: over the limit only in the last bytes, written after the body
    ],
)
def test_too_large_is_413_when_streamed_without_length(client, stored, chunks: int) -> None:
    def body():
        boundary = b"b0undary"
        yield (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        )
        for _ in range(chunks):  # no Content-Length: chunked
            yield b"\1" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    r = client.post(
        API,
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert_error(r, 413, "file_too_large")


def test_too_long_is_422(client, stored, audio_files) -> None:
    # two_cities lasts 44 s; the limit here is 30 s.
    assert_error(post_file(client, audio_files["flac"]), 422, "duration_too_long")
