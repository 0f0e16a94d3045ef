"""Upload, read, list and stream: every status, body and header the routes promise."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.api.conftest import API, upload
from tests.support import assert_error, unlinked


def test_upload_get_list_stream(client, audio_files) -> None:
    original = audio_files["wav"]
    body = original.read_bytes()

    accepted = upload(client, original, domain="economics")
    assert accepted.status_code == 202, accepted.text
    rec = accepted.json()
    assert accepted.headers["location"] == f"{API}/{rec['id']}"
    assert rec["status"] == "queued"
    assert rec["sha256"] == hashlib.sha256(body).hexdigest()
    assert rec["size_bytes"] == len(body)
    assert rec["content_type"] == "audio/wav"
    assert rec["sample_rate"] == 48000 and rec["channels"] == 1
    assert rec["duration_s"] == pytest.approx(44.37, abs=0.05)
    assert rec["domain"] == "economics"
    assert [s["name"] for s in rec["stages"]] == ["archive", "echo", "transcribe", "summarize"]
    assert all(s["status"] == "pending" for s in rec["stages"])

    got = client.get(f"{API}/{rec['id']}").json()
    assert unlinked(got) == unlinked(rec)
    assert got["retention_until"].startswith(str(int(got["created_at"][:4]) + 5))

    listed = client.get(f"{API}").json()
    assert [r["id"] for r in listed["items"]] == [rec["id"]]
    assert listed["next_cursor"] is None

    whole = client.get(f"{API}/{rec['id']}/stream")
    assert whole.status_code == 200
    assert whole.content == body
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["etag"] and whole.headers["last-modified"]


def test_list_is_newest_first_with_cursor_and_status_filter(client, audio_files) -> None:
    ids = [
        upload(client, audio_files[k]).json()["id"] for k in ("wav", "mp3", "m4a", "flac", "ogg")
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}", params=params).json()
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    queued = client.get(f"{API}", params={"status": "queued"}).json()["items"]
    assert len(queued) == 5
    assert client.get(f"{API}", params={"status": "done"}).json()["items"] == []

    for bad in ({"status": "nope"}, {"limit": 0}, {"limit": 501}):
        r = client.get(f"{API}", params=bad)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.get(f"{API}", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_cursor"


@pytest.fixture
def streamed(client, audio_files):
    rec = upload(client, audio_files["wav"]).json()
    return client, f"{API}/{rec['id']}/stream", audio_files["wav"].read_bytes()


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-1023", 0, 1023), ("bytes=-500", -500, None), ("bytes=1000-", 1000, None)],
)
def test_single_ranges(streamed, header: str, start: int, end: int | None) -> None:
    client, url, body = streamed
    r = client.get(url, headers={"Range": header})
    assert r.status_code == 206
    first = start % len(body)
    last = len(body) - 1 if end is None else end
    assert r.content == body[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(body)}"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "audio/wav"
    assert int(r.headers["content-length"]) == last - first + 1


def test_multi_range(streamed) -> None:
    client, url, body = streamed
    r = client.get(url, headers={"Range": "bytes=0-99,2000-2099"})
    assert r.status_code == 206
    boundary = re.search(r"boundary=(\S+)", r.headers["content-type"]).group(1)
    assert r.headers["content-type"].startswith("multipart/byteranges")
    parts = [p for p in r.content.split(b"--" + boundary.encode()) if b"Content-Range" in p]
    assert len(parts) == 2
    for part, (a, b) in zip(parts, [(0, 99), (2000, 2099)], strict=True):
        head, _, payload = part.partition(b"\r\n\r\n")
        assert f"Content-Range: bytes {a}-{b}/{len(body)}".encode() in head
        assert payload.rstrip(b"\r\n") == body[a : b + 1].rstrip(b"\r\n")
    assert int(r.headers["content-length"]) == len(r.content)
    # The next plain GET of the same file is the whole file, as before (Starlette 0.49.1's
    # multipart writer once rewrote the headers every answer about this file shares).
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == body
    assert (
        whole.headers["content-length"] == str(len(body)) and "content-range" not in whole.headers
    )
    assert whole.headers["content-type"] == "audio/wav"


def test_unsatisfiable_and_malformed_ranges(streamed) -> None:
    client, url, body = streamed
    r = client.get(url, headers={"Range": f"bytes={len(body) + 10}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(body)}"
    assert r.json()["error"] == "range_not_satisfiable"
    for malformed in ("bytes=abc", "bytes=10-5", "garbage"):
        r = client.get(url, headers={"Range": malformed})
        assert r.status_code == 400, malformed
        assert r.json()["error"] == "malformed_range"
    # RFC 9110: a range unit the server does not know is ignored: the whole file.
    r = client.get(url, headers={"Range": "items=0-1"})
    assert r.status_code == 200 and r.content == body


def test_if_range_with_a_stale_etag_sends_the_whole_file(streamed) -> None:
    client, url, body = streamed
    etag = client.get(url, headers={"Range": "bytes=0-0"}).headers["etag"]
    fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == body[:10]
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == body


def test_unknown_ids_and_variants(streamed) -> None:
    client, url, _ = streamed
    for bad in ("0" * 32, "not-an-id", "../../etc/passwd"):
        r = client.get(f"{API}/{bad}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        assert client.get(f"{API}/{bad}/stream").status_code == 404
    for variant in ("archive", "echo"):
        r = client.get(url, params={"variant": variant})
        assert r.status_code == 409
        assert r.json()["error"] == "variant_not_ready" and variant in r.json()["detail"]
    assert client.get(url, params={"variant": "bogus"}).status_code == 422


def test_health_metrics_and_openapi(client, audio_files) -> None:
    upload(client, audio_files["wav"])
    health = client.get("/healthz")  # no engine runs beside this app: it says so
    assert health.status_code == 503
    assert health.json() | {"engine": None} == {
        "status": "unavailable",
        "database": "ok",
        "engine": None,
    }
    text = client.get("/metrics").text
    assert 'audiodas_uploads_total{outcome="accepted"} 1.0' in text
    assert 'audiodas_recordings{status="queued"} 1.0' in text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/recordings", "/api/v1/recordings/{recording_id}/stream"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_head_allow_and_refused_actions(client, stored) -> None:
    rid = stored["id"]
    # HEAD: what a player asks before it streams; headers of the GET, no body.
    get = client.get(f"{API}/{rid}/stream")
    head = client.head(f"{API}/{rid}/stream")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["accept-ranges"] == "bytes"
    assert client.head(f"{API}/{'0' * 32}/stream").status_code == 404
    assert client.head(f"{API}/{rid}/transcript").status_code == 409  # queued: not transcribed
    # 405 names every method of the path, not only the first route's.
    for path, allowed in [(API, "GET, POST"), (f"{API}/{rid}", "GET, PATCH, DELETE")]:
        r = client.put(path)
        assert_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == allowed
    # The browser model is not built for this data folder.
    assert_error(client.get("/models/encoder_model.onnx"), 404, "not_found")
    # Retry is for failed recordings only.
    assert_error(client.post(f"{API}/{rid}/retry"), 409, "not_retryable")
    assert_error(client.post(f"{API}/{'0' * 32}/retry"), 404, "not_found")
