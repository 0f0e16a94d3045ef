"""Hostile upload bodies, as a hostile tester writes them byte by byte: every answer is JSON with
the right status, and nothing already stored is harmed (the `stored` fixture checks)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.api.conftest import API
from tests.support import assert_error

BOUNDARY = b"B0undary"


@pytest.fixture
def client(make_client):
    return make_client(max_upload_mb=2)


@pytest.fixture(scope="module")
def clip(audio_files) -> bytes:
    return audio_files["short_mp3"].read_bytes()


def part(name: bytes, data: bytes, filename: bytes | None = None, headers: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return b"--" + BOUNDARY + b"\r\n" + disposition + b"\r\n" + headers + b"\r\n" + data + b"\r\n"


END = b"--" + BOUNDARY + b"--\r\n"


def post_raw(client, body: bytes, boundary: bytes = BOUNDARY):  # type: ignore[no-untyped-def]
    content_type = "multipart/form-data; boundary=" + boundary.decode()
    return client.post(API, content=body, headers={"Content-Type": content_type})


HOSTILE_BODIES = {
    # name: (body from the clip, boundary in the header, status, error code)
    "boundary does not match the header": (
        lambda clip: part(b"file", clip, b"a.mp3") + END,
        b"OtherBoundary",
        400,
        "malformed_body",
    ),
    "carriage return in the filename": (
        lambda clip: part(b"file", clip, b"a\rb.mp3") + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "10,000-character filename": (
        lambda clip: part(b"file", clip, b"x" * 10_000 + b".mp3") + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "20,000 parts": (
        lambda clip: b"".join(part(b"f%d" % i, b"v") for i in range(20_000)) + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "two file parts": (
        lambda clip: part(b"file", clip, b"a.mp3") + part(b"file", clip, b"b.mp3") + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "a 100 KiB part header": (
        lambda clip: part(b"file", clip, b"a.mp3", b"X-Junk: " + b"j" * 100_000 + b"\r\n") + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "a header line without a colon": (
        lambda clip: b"--" + BOUNDARY + b"\r\nnot a header\r\n\r\n" + clip + b"\r\n" + END,
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "no closing boundary": (
        lambda clip: part(b"file", clip, b"a.mp3"),
        BOUNDARY,
        400,
        "malformed_body",
    ),
    "no file part, only fields": (
        lambda clip: part(b"domain", b"economics") + END,
        BOUNDARY,
        400,
        "missing_file",
    ),
    "a file part without a filename": (
        lambda clip: part(b"file", clip) + END,
        BOUNDARY,
        400,
        "missing_file",
    ),
    "a 1 MiB text field": (
        lambda clip: part(b"domain", b"e" * (1 << 20)) + part(b"file", clip, b"a.mp3") + END,
        BOUNDARY,
        400,
        "invalid_field",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
def test_hostile_multipart_bodies_get_json_4xx(client, stored, clip, case) -> None:
    make, boundary, status, code = HOSTILE_BODIES[case]
    assert_error(post_raw(client, make(clip), boundary), status, code)


@pytest.mark.parametrize(
    "filename, shown",
    [
        (b"a\x01\x07b\x1b[31m.mp3", "ab[31m.mp3"),  # control characters (a terminal escape)
        (b"../../etc/passwd.mp3", "passwd.mp3"),  # traversal: a name, never a path
        (b"..\\..\\boot.ini.mp3", "boot.ini.mp3"),
        (b"a\nb.mp3", "ab.mp3"),  # the parser takes a bare LF inside the quotes
    ],
)
def test_hostile_filenames_are_kept_as_harmless_names(client, clip, filename, shown) -> None:
    r = post_raw(client, part(b"file", clip, filename) + END)
    assert r.status_code == 202, r.text
    assert r.json()["filename"] == shown
    [original] = (client.data_dir / "recordings" / r.json()["id"]).iterdir()
    assert original.name == "original.mp3" and original.read_bytes() == clip


def lying_wav(source: Path, target: Path, riff: int | None, data: int) -> Path:
    wav = bytearray(source.read_bytes())
    at = wav.find(b"data")
    if riff is not None:
        wav[4:8] = struct.pack("<I", riff)
    wav[at + 4 : at + 8] = struct.pack("<I", data)
    target.write_bytes(wav)
    return target


def test_a_wav_header_that_lies_about_its_size_is_refused(client, stored, assets, tmp_path):
    beckett = assets / "beckett.wav"
    for riff, data in [(None, 0xF0000000), (0xFFFFFFFF, 0xFFFFFFF0)]:  # 4 GB of "audio"
        liar = lying_wav(beckett, tmp_path / "liar.wav", riff, data)
        with liar.open("rb") as f:
            r = client.post(API, files={"file": f})
        assert_error(r, 415, "unsupported_media_type")
        assert "header states" in r.json()["detail"]
