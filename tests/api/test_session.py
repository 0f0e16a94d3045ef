"""The web app's sign-in: a key exchanged once for a session cookie that every tab sends, with
the key's scope, for a while, from the server's own pages only."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from audiodas.api.access import SESSION_COOKIE
from audiodas.domain import Scope
from tests.api.conftest import API
from tests.support import assert_error

SESSION = "/api/v1/session"


@pytest.fixture
def client(make_client):
    return make_client(auth="required", access_cache_s=0)


def sign_in(client, scope: Scope = Scope.READ, name: str = "browser"):  # type: ignore[no-untyped-def]
    key = client.app.state.runtime.access.create(scope, name)[1]
    return client.post(SESSION, headers={"Authorization": f"Bearer {key}"})


def test_a_key_is_exchanged_for_a_cookie_scripts_cannot_read(client) -> None:
    assert client.get(SESSION).json() == {
        "required": True, "signed_in": False, "key": None, "expires_at": None
    }  # fmt: skip
    answer = sign_in(client)
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert {"httponly", "samesite", "path"} <= attributes and "samesite=strict" in cookie.lower()
    assert not attributes & {"max-age", "expires"}  # gone when the browser closes
    assert "secure" not in attributes  # plain HTTP here: a Secure cookie would never come back
    # Any tab, no key sent: the cookie is enough, and says who it is.
    assert client.get(API).status_code == 200
    said = client.get(SESSION).json()
    assert said["signed_in"] and said["key"] == {"name": "browser", "scope": "read"}
    hours = (datetime.fromisoformat(said["expires_at"]).timestamp() - time.time()) / 3600
    assert 11.9 < hours <= 12  # AUDIODAS_SESSION_HOURS


def test_a_session_has_its_keys_scope_and_ends_with_it(client, audio_files) -> None:
    upload = client.app.state.runtime.access.create(Scope.UPLOAD, "up")[1]
    with audio_files["short_mp3"].open("rb") as f:
        rec = client.post(API, files={"file": f}, headers={"Authorization": f"Bearer {upload}"})
    sign_in(client, Scope.READ, "reader")
    assert client.get(f"{API}/{rec.json()['id']}").status_code == 200
    assert_error(client.delete(f"{API}/{rec.json()['id']}"), 403, "forbidden")
    assert client.get(f"{API}/{rec.json()['id']}").status_code == 200  # nothing deleted
    client.app.state.runtime.access.revoke("reader")
    refused = client.get(API)
    assert_error(refused, 401, "invalid_key")
    assert "sign in again" in refused.json()["detail"]
    assert client.get(SESSION).json()["signed_in"] is False


def test_a_session_ends_after_its_hours(make_client) -> None:
    client = make_client(auth="required", access_cache_s=0, session_hours=1)
    assert sign_in(client).status_code == 200
    assert client.get(API).status_code == 200
    control = client.app.state.runtime.access
    control._clock = lambda: time.time() + 3601  # an hour and a second later
    assert_error(client.get(API), 401, "invalid_key")


def test_a_session_opens_only_with_a_key_and_never_outlives_it(client) -> None:
    control = client.app.state.runtime.access
    assert_error(client.post(SESSION), 401, "unauthenticated")
    wrong = client.post(SESSION, headers={"Authorization": "Bearer adk_0123456789ab_" + "x" * 27})
    assert_error(wrong, 401, "invalid_key")
    assert "set-cookie" not in wrong.headers
    sign_in(client)
    assert_error(client.post(SESSION), 401, "unauthenticated")  # the cookie renews nothing
    short = control.create(Scope.READ, "short", expires_days=0.5)[1]
    client.cookies.clear()
    said = client.post(SESSION, headers={"Authorization": f"Bearer {short}"}).json()
    key_expiry = next(k for k in control.keys() if k.name == "short").expires_at
    assert said["expires_at"] <= key_expiry.isoformat()  # 12 h by default, the key only 12 h


def test_a_forged_or_altered_cookie_is_refused(client) -> None:
    token = sign_in(client).cookies[SESSION_COOKIE]
    key_id, expires, signature = token.split(".")
    for forged in (
        f"{key_id}.{int(expires) + 3600}.{signature}",  # a later end
        f"0123456789ab.{expires}.{signature}",  # another key
        f"{key_id}.{expires}.{'0' * 32}",
        "not a session",
    ):
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, forged)
        assert_error(client.get(API), 401, "invalid_key")


def test_only_the_servers_own_pages_may_use_the_cookie(client) -> None:
    sign_in(client)
    assert client.get(API, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    for site in ("same-site", "cross-site"):  # a sibling subdomain's page, another site's
        assert_error(client.get(API, headers={"Sec-Fetch-Site": site}), 401, "unauthenticated")


def test_signing_out_ends_the_session_in_every_tab(client) -> None:
    sign_in(client)
    answer = client.delete(SESSION)
    assert answer.status_code == 204
    assert SESSION_COOKIE not in client.cookies
    assert_error(client.get(API), 401, "unauthenticated")


def test_with_keys_not_required_there_is_nothing_to_sign_in_to(make_client) -> None:
    client = make_client()  # the embedded default, no key made
    answer = client.post(SESSION)
    assert answer.json()["required"] is False and "set-cookie" not in answer.headers
