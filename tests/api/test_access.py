"""API keys and scopes, from the app's own route list: every route x every kind of caller gets
the answer its rule says; signed links open one resource, for a while."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from audiodas.api import access
from audiodas.domain import RecordingStatus, Scope
from tests.api.conftest import API
from tests.support import assert_error

RANK = {None: -1, Scope.READ: 0, Scope.UPLOAD: 1, Scope.ADMIN: 2}


@pytest.fixture
def client(make_client):
    # Every kind of caller from one address: no wait for the wrong keys among them.
    return make_client(auth="required", access_cache_s=0, key_failures_allowed=10_000)


@pytest.fixture
def keys(client) -> dict[str, str]:
    """A key text per kind of caller (None: no Authorization header)."""
    control = client.app.state.runtime.access
    made = {scope.value: control.create(scope, scope.value)[1] for scope in Scope}
    made["expired"] = control.create(Scope.ADMIN, "expired", expires_days=-1)[1]
    made["revoked"] = control.create(Scope.ADMIN, "revoked")[1]
    control.revoke("revoked")
    made["wrong"] = "adk_0123456789ab_" + "x" * 27  # shaped like a key, not one
    made["garbage"] = "not a key at all"
    return made


def finished(client, recording: dict) -> dict:
    """The recording as failed: its progress stream is then one answer, not a live stream."""
    runtime = client.app.state.runtime
    runtime.repository.set_status(recording["id"], RecordingStatus.FAILED, datetime.now(UTC))
    return recording


def call(client, rule: str, recording_id: str, audio, key: str | None):  # type: ignore[no-untyped-def]
    client.cookies.clear()  # a sign-in (POST /api/v1/session) leaves none for the next caller
    method, path = rule.split(" ")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    path = path.replace("{recording_id}", recording_id)
    if rule in (
        "POST /api/v1/recordings",
        "POST /v1/audio/transcriptions",
        "POST /v1/audio/translations",
    ):
        return client.post(path, files={"file": ("a.mp3", audio)}, headers=headers)
    return client.request(method, path, headers=headers)


def test_every_route_answers_every_caller_as_its_rule_says(client, keys, audio_files) -> None:
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with audio_files["short_mp3"].open("rb") as f:
        rec = finished(client, client.post(API, files={"file": f}, headers=admin).json())
    audio = audio_files["short_mp3"].read_bytes()
    rules = access.routes(client.app)
    assert set(rules) == set(access.RULES)  # the table is the app's route list, no more
    for rule in rules:
        if rule.startswith("WS "):
            continue  # the live WebSocket: tests/api/test_live.py
        need = access.RULES[rule]
        for caller in (None, "garbage", "wrong", "expired", "revoked", *[s.value for s in Scope]):
            finished(client, rec)  # again: a retry allowed just before queued it
            answer = call(client, rule, rec["id"], audio, keys.get(caller) if caller else None)
            where = (rule, caller, answer.status_code, answer.text[:120])
            error = (
                answer.json().get("error") if answer.content and answer.status_code >= 400 else None
            )
            if isinstance(error, dict):  # OpenAI's shape on its routes: the code inside
                error = error["code"]
            head = rule.startswith("HEAD ")  # no body to say which
            if need is None:
                assert answer.status_code not in (401, 403), where
            elif caller is None:
                assert answer.status_code == 401 and (head or error == "unauthenticated"), where
                assert answer.headers["www-authenticate"] == "Bearer", where
            elif caller in ("garbage", "wrong", "expired", "revoked"):
                assert answer.status_code == 401 and (head or error == "invalid_key"), where
            elif RANK[Scope(caller)] < RANK[need]:
                assert answer.status_code == 403 and (head or error == "forbidden"), where
            else:
                assert answer.status_code not in (401, 403), where
                assert answer.status_code < 500, where


def test_a_route_without_a_rule_stops_the_app(client) -> None:
    app = FastAPI()
    app.get("/api/v1/new-thing")(lambda: {})
    with pytest.raises(RuntimeError, match="GET /api/v1/new-thing"):
        access.install(app)


def test_a_route_not_checked_against_its_rule_stops_the_app() -> None:
    app = FastAPI()  # a plain APIRoute: nothing would authorize its requests
    app.get("/healthz")(lambda: {})
    with pytest.raises(RuntimeError, match="not of the class access.Authorized"):
        access.install(app)


def test_the_openapi_document_says_which_routes_need_a_key(client, keys) -> None:
    """Clients generated from /openapi.json send the key where it is needed, and only there;
    the key is read as FastAPI's HTTPBearer read it (any case of the scheme, spaces around)."""
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["API key"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            need = access.RULES[f"{method.upper()} {path}"]
            expected = None if need is access.PUBLIC else [{"API key": []}]
            assert operation.get("security") == expected, (method, path)
            if expected:  # what a keyed request can meet, the wrong-key throttle's 429 too
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
    for header in (f"bearer {keys['read']}", f"BEARER   {keys['read']} "):
        assert client.get(API, headers={"Authorization": header}).status_code == 200
    for header in (f"Basic {keys['read']}", "Bearer", "Bearer  "):
        assert_error(client.get(API, headers={"Authorization": header}), 401, "unauthenticated")


def test_keys_turn_on_with_the_first_one(make_client, audio_files) -> None:
    client = make_client(access_cache_s=0)  # auth=auto, the embedded default
    assert client.get(API).status_code == 200  # no key made yet: open
    client.app.state.runtime.access.create(Scope.READ, "first")
    assert_error(client.get(API), 401, "unauthenticated")
    client.app.state.runtime.access.revoke("first")
    assert_error(client.get(API), 401, "unauthenticated")  # revoking does not reopen it
    assert client.get("/healthz").status_code != 401 and client.get("/").status_code == 200


def test_metrics_can_be_made_public(make_client) -> None:
    assert_error(make_client(auth="required").get("/metrics"), 401, "unauthenticated")
    assert make_client(auth="required", metrics_public=True).get("/metrics").status_code == 200


def test_a_key_records_its_last_use_and_never_shows_again(client, keys) -> None:
    control = client.app.state.runtime.access
    assert client.get(API, headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200
    listed = {key.name: key for key in control.keys()}
    assert listed["read"].last_used_at is not None and listed["upload"].last_used_at is None
    assert listed["revoked"].revoked_at is not None
    for key in listed.values():
        assert all(text.split("_", 2)[2] not in repr(key) for text in keys.values() if "_" in text)
    with pytest.raises(Exception, match="exists already"):
        control.create(Scope.READ, "read")  # names are unique: revoke by name is unambiguous


def test_signed_links_open_one_resource_for_a_while(client, keys, audio_files) -> None:
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with audio_files["short_mp3"].open("rb") as f:
        rec = finished(client, client.post(API, files={"file": f}, headers=admin).json())
    with audio_files["wav"].open("rb") as f:
        other = client.post(API, files={"file": f}, headers=admin).json()
    link = rec["variants"]["original"]["signed_url"]
    part = client.get(link, headers={"Range": "bytes=0-99"})  # no key: an <audio> element
    assert part.status_code == 206 and part.content == audio_files["short_mp3"].read_bytes()[:100]
    assert client.head(link).status_code == 200
    events = client.get(rec["events_url"])
    assert events.status_code == 200 and events.headers["content-type"].startswith("text/event")
    for tampered in (
        link.replace(rec["id"], other["id"]),  # another recording
        link.replace("variant=original", "variant=archive"),  # another file of it
        link[:-1] + ("0" if link[-1] != "0" else "1"),  # another signature
        link.replace("expires=", "expires=9"),  # a later expiry
        rec["events_url"].replace("/events", "/stream"),  # another route
    ):
        assert_error(client.get(tampered), 403, "link_invalid")
    assert_error(client.get(f"{API}/{rec['id']}", params={"sig": "x"}), 401, "unauthenticated")
    control = client.app.state.runtime.access
    control._clock = lambda: time.time() + control.settings.link_ttl_s + 120  # later on
    assert_error(client.get(link), 403, "link_expired")
    assert "link_expired" in client.get(rec["events_url"]).text


def test_a_link_never_mints_one_that_outlives_it_and_dies_with_its_key(
    make_client, audio_files
) -> None:
    """A signed events link answers with the recording's links: they expire when it does (not
    later), carry its key, and every one of them stops working once that key is revoked."""
    import json
    from urllib.parse import parse_qs, urlsplit

    client = make_client(auth="required", access_cache_s=0, link_ttl_s=600)
    control = client.app.state.runtime.access
    key = control.create(Scope.READ, "reader")[1]
    with audio_files["short_mp3"].open("rb") as f:
        uploaded = client.post(
            API,
            files={"file": f},
            headers={"Authorization": f"Bearer {control.create(Scope.UPLOAD, 'up')[1]}"},
        ).json()
    finished(client, uploaded)  # its events are then one answer
    rec = client.get(f"{API}/{uploaded['id']}", headers={"Authorization": f"Bearer {key}"}).json()
    first = rec["events_url"]
    expires = int(parse_qs(urlsplit(first).query)["expires"][0])
    control._clock = lambda: time.time() + 300  # later: a link made now would expire later
    snapshot = client.get(first).text.split("data: ", 1)[1].split("\n", 1)[0]
    minted = json.loads(snapshot)
    links = [minted["events_url"], *(v["signed_url"] for v in minted["variants"].values())]
    for link in links:  # each no later than the one followed, made for the same key
        query = parse_qs(urlsplit(link).query)
        assert int(query["expires"][0]) <= expires and query["kid"] == [key.split("_")[1]], link
        assert client.get(link, headers={"Range": "bytes=0-9"}).status_code in (200, 206)
    control.revoke("reader")
    for link in (first, *links):
        answer = client.get(link)
        assert_error(answer, 403, "link_invalid")
        assert "revoked" in answer.json()["detail"]


def test_wrong_keys_from_one_address_make_it_wait_and_are_logged(make_client, caplog) -> None:
    """Guessing is slowed per address (the guesser's), never for a valid key from another;
    each failure is logged with the key's id, never its secret."""
    from starlette.testclient import TestClient

    client = make_client(auth="required", access_cache_s=0)
    control = client.app.state.runtime.access
    valid = control.create(Scope.READ, "reader")[1]
    now = [time.time()]
    control._clock = control.guesses._clock = lambda: now[0]
    guess = "adk_0123456789ab_" + "g" * 27
    answers = [client.get(API, headers={"Authorization": f"Bearer {guess}"}) for _ in range(12)]
    assert [a.status_code for a in answers] == [401] * 11 + [429]
    assert answers[-1].json()["error"] == "too_many_attempts"
    assert answers[-1].headers["Retry-After"] == "1"
    waiting = client.get(API, headers={"Authorization": f"Bearer {valid}"})
    assert waiting.status_code == 429  # no key checked from there while it waits: no oracle
    other = TestClient(client.app, base_url=client.base_url, client=("192.0.2.7", 4000))
    assert other.get(API, headers={"Authorization": f"Bearer {valid}"}).status_code == 200
    now[0] += 1.5  # the wait is over: the valid key passes again
    assert client.get(API, headers={"Authorization": f"Bearer {valid}"}).status_code == 200
    refused = [r.getMessage() for r in caplog.records if "API key refused" in r.getMessage()]
    assert len(refused) == 11 and "id 0123456789ab" in refused[0]
    assert all("gggg" not in line for line in refused)
