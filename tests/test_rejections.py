"""Bad input gets the right 4xx with a JSON body, and nothing stored is harmed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import assert_error

API = "/api/v1/recordings"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.support import Server

    # Small limits so that "too large" and "too long" are cheap to cause.
    srv = Server(
        tmp_path_factory.mktemp("rejections") / "data",
        env={"AUDIODAS_MAX_UPLOAD_MB": "2", "AUDIODAS_MAX_DURATION_S": "30"},
    ).start()
    yield srv
    srv.stop()


def post_file(server, path: Path, name: str | None = None) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{server.url}{API}", files={"file": (name or path.name, f)}, timeout=60)


@pytest.mark.parametrize(
    "kind", ["text", "image", "truncated_wav", "truncated_mp3", "truncated_m4a", "corrupt"]
)
def test_not_audio_is_415(server, stored, audio_files, kind: str) -> None:
    # Named as audio: the server looks at the bytes, not the name.
    assert_error(
        post_file(server, audio_files[kind], name="clip.mp3"), 415, "unsupported_media_type"
    )


def test_empty_file_is_400(server, stored, audio_files) -> None:
    assert_error(post_file(server, audio_files["empty"]), 400, "empty_file")


def test_no_file_is_400(server, stored) -> None:
    assert_error(
        httpx.post(f"{server.url}{API}", data={"domain": "economics"}), 400, "missing_file"
    )
    assert_error(httpx.post(f"{server.url}{API}", content=b"raw bytes"), 400, "missing_file")
    assert_error(
        httpx.post(f"{server.url}{API}", files={"other": ("a.wav", b"x")}), 400, "missing_file"
    )


def test_bad_domain_is_400(server, stored, audio_files) -> None:
    with audio_files["short_mp3"].open("rb") as f:
        r = httpx.post(f"{server.url}{API}", files={"file": f}, data={"domain": "<script>"})
    assert_error(r, 400, "invalid_field")


def test_too_large_is_413_before_the_body_is_read(server, stored, tmp_path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (8 << 20))  # 8 MiB against a 2 MiB limit
    assert_error(post_file(server, big), 413, "file_too_large")


def test_too_large_is_413_when_streamed_without_length(server, stored) -> None:
    def body():
        boundary = b"b0undary"
        yield (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        )
        for _ in range(64):  # 64 x 64 KiB = 4 MiB, no Content-Length: chunked
            yield b"\1" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    r = httpx.post(
        f"{server.url}{API}",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert_error(r, 413, "file_too_large")


def test_too_long_is_422(server, stored, audio_files) -> None:
    # two_cities lasts 44 s; the limit here is 30 s.
    assert_error(post_file(server, audio_files["flac"]), 422, "duration_too_long")
