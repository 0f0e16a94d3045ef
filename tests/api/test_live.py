"""The live WebSocket's protocol in process (api/live.py): the session, its refusals and close
codes, and that whatever audio arrived is kept as a recording, on the FakeLiveDecoder twin
(any sound is heard as the transcript's text, silence as nothing)."""

from __future__ import annotations

import json
import math
import struct

import pytest
from starlette.testclient import WebSocketDenialResponse

from audiodas.domain import Scope
from audiodas.inference import InferenceFailed, InferenceUnavailable
from tests.api.conftest import API

LIVE = "ws://127.0.0.1:8000/api/v1/live"  # the Host the embedded default answers to


def tone(seconds: float) -> bytes:
    count = int(seconds * 16_000)
    return struct.pack(
        f"<{count}h", *(int(8000 * math.sin(2 * math.pi * 440 * n / 16_000)) for n in range(count))
    )


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * 16_000))


def closed(ws) -> tuple[list[dict], int, str]:  # type: ignore[no-untyped-def]
    """Every message until the server closes, and its close code and reason."""
    messages = []
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return messages, message["code"], message.get("reason", "")
        messages.append(json.loads(message["text"]))


def recordings(client) -> list[dict]:  # type: ignore[no-untyped-def]
    return client.get(API).json()["items"]


def test_a_session_settles_its_text_and_becomes_a_recording(client) -> None:
    with client.websocket_connect(LIVE) as ws:
        ws.send_json({"type": "start", "speakers": 1})
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(tone(1.5) + silence(0.5))  # a sentence, a pause
        ws.send_bytes(tone(1.0))
        ws.send_json({"type": "stop"})
        messages, code, _ = closed(ws)
    finals = [m for m in messages if m["type"] == "final"]
    assert [f["text"] for f in finals] == ["Hello world.", "Hello world."]
    assert finals[0]["start"] == 0.0 and finals[0]["end"] <= finals[1]["start"]
    assert messages[-1]["type"] == "recording" and code == 1000
    rec = client.get(f"{API}/{messages[-1]['id']}").json()
    assert rec["duration_s"] == pytest.approx(3.0, abs=0.05)
    assert rec["status"] == "queued" and rec["filename"].startswith("Live ")


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"\x00\x01"], "start"),  # audio before the start
        (['{"type": "start"}', b"\x00\x01\x02"], "even number of bytes"),
        (['{"type": "start"}', "not json"], "JSON"),
        (['{"type": "start"}', '{"type": "pause"}'], "stop"),
    ],
)
def test_a_frame_the_protocol_lacks_closes_with_1003_and_a_reason(client, frames, reason) -> None:
    with client.websocket_connect(LIVE) as ws:
        for frame in frames:
            (ws.send_bytes if isinstance(frame, bytes) else ws.send_text)(frame)
        _, code, said = closed(ws)
    assert code == 1003 and reason in said


def test_audio_that_arrived_is_kept_when_a_bad_frame_ends_the_session(client) -> None:
    with client.websocket_connect(LIVE) as ws:  # malformed after a second of audio
        ws.send_json({"type": "start"})
        ws.receive_json()
        ws.send_bytes(tone(1.0))
        ws.send_bytes(b"\x00")
        messages, code, _ = closed(ws)
    assert code == 1003 and messages[-1]["type"] == "recording"
    assert [r["duration_s"] for r in recordings(client)] == [1.0]
    # A client that goes without a stop: tests/test_live.py (the test client cancels the
    # server's side of a socket it closes; uvicorn lets it finish).


def test_refused_starts_say_why(make_client) -> None:
    client = make_client()
    with client.websocket_connect(LIVE) as ws:
        ws.send_json({"type": "start", "domain": "astrology"})
        messages, code, _ = closed(ws)
    assert code == 1008 and messages[0]["error"] == "invalid_field"
    client.app.state.inference.live_sessions = 0  # every live session taken
    with client.websocket_connect(LIVE) as ws:
        ws.send_json({"type": "start"})
        messages, code, _ = closed(ws)
    assert code == 1013 and messages[0]["error"] == "live_busy"
    assert (
        "AUDIODAS_LIVE_SESSIONS" in messages[0]["detail"]
        or "live sessions" in messages[0]["detail"]
    )
    assert recordings(client) == []


def test_the_socket_needs_an_upload_key_a_session_or_a_signed_link(make_client) -> None:
    client = make_client(auth="required")
    access = client.app.state.runtime.access
    uploader = access.create(Scope.UPLOAD, "uploader")[1]
    reader = access.create(Scope.READ, "reader")[1]
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect(LIVE):
            pass
    assert denied.value.status_code == 401
    assert denied.value.json()["error"] == "unauthenticated"
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect(LIVE, headers={"Authorization": f"Bearer {reader}"}):
            pass
    assert denied.value.status_code == 403
    with client.websocket_connect(LIVE, headers={"Authorization": f"Bearer {uploader}"}) as ws:
        ws.send_json({"type": "start"})
        assert ws.receive_json()["type"] == "ready"
    answer = client.get("/api/v1/live/link", headers={"Authorization": f"Bearer {uploader}"})
    link = "ws://127.0.0.1:8000" + answer.json()["url"]
    with client.websocket_connect(link) as ws:
        ws.send_json({"type": "start"})
        assert ws.receive_json()["type"] == "ready"
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect(link.replace("sig=", "sig=0")):
            pass
    assert denied.value.status_code == 403


def test_the_audit_trail_names_the_key_a_session_came_with_or_its_link_was_made_for(
    make_client,
) -> None:
    client = make_client(auth="required")
    access = client.app.state.runtime.access
    admin = {"Authorization": f"Bearer {access.create(Scope.ADMIN, 'ops')[1]}"}
    uploader = {"Authorization": f"Bearer {access.create(Scope.UPLOAD, 'dictaphone')[1]}"}
    link = client.get("/api/v1/live/link", headers=uploader).json()["url"]
    made = []
    for url, headers in [(LIVE, uploader), ("ws://127.0.0.1:8000" + link, {})]:
        with client.websocket_connect(url, headers=headers) as ws:
            ws.send_json({"type": "start"})
            ws.send_bytes(tone(1.0))
            ws.send_json({"type": "stop"})
            made.append(closed(ws)[0][-1]["id"])
    trail = client.get("/api/v1/audit", params={"action": "upload"}, headers=admin).json()
    assert [(e["recording_id"], e["actor"]) for e in trail["items"]] == [
        (made[1], "dictaphone"),
        (made[0], "dictaphone"),
    ]


@pytest.mark.parametrize(
    ("failures", "code", "reason"),
    [
        ([InferenceFailed("process died")], 1000, ""),  # replaced: the session goes on
        ([InferenceFailed("process died")] * 3, 1011, "live decoding failed"),
        ([InferenceFailed("process died")] + [InferenceUnavailable("gone")] * 2, 1012,
         "restarting"),
    ],
    ids=["one failure", "three failures", "the engine stopping"],
)  # fmt: skip
def test_a_failed_decoding_is_tried_again_and_what_arrived_is_kept_in_any_case(
    client, failures, code, reason
) -> None:
    client.app.state.inference.live_failures = failures
    with client.websocket_connect(LIVE) as ws:
        ws.send_json({"type": "start"})
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(tone(2.5))  # the first decoding
        if code == 1000:
            ws.send_bytes(silence(0.6) + tone(1.0))
            ws.send_json({"type": "stop"})
        messages, closed_with, why = closed(ws)
    assert closed_with == code and reason in why
    assert messages[-1]["type"] == "recording"  # whatever happened, the audio is kept
    if code == 1000:
        assert [m["text"] for m in messages if m["type"] == "final"] == ["Hello world."] * 2


def test_a_page_of_another_origin_cannot_open_it(client) -> None:
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect(LIVE, headers={"Origin": "http://evil.example"}):
            pass
    assert denied.value.status_code == 403
    assert denied.value.json()["error"] == "origin_not_allowed"
