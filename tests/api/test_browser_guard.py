"""No other web page can drive a server: the Host allowlist (DNS rebinding), cross-origin
writes refused, CORS for the origins listed, and the security headers browsers obey."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from audiodas.api.edge import Edge
from audiodas.config import Settings
from tests.api.conftest import API, BASE_URL, snapshot
from tests.support import assert_error

APP_ORIGIN = "https://app.example"  # another origin the operator lists
EVIL = "https://evil.example"


# The rules, on a bare app behind the edge (milliseconds each).


def guarded(**settings: object) -> TestClient:
    async def ok(_request) -> PlainTextResponse:  # type: ignore[no-untyped-def]
        return PlainTextResponse("ok")

    methods = ["GET", "POST", "DELETE"]
    app = Starlette(routes=[Route("/", ok, methods=methods), Route("/x", ok, methods=methods)])
    edge = Edge(app, Settings(**settings))  # type: ignore[arg-type]
    return TestClient(edge, base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"]
)
def test_the_default_answers_the_bound_address_and_localhost(host: str) -> None:
    assert guarded().get("/x", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example:8000", "10.0.0.7"]
)
def test_the_default_refuses_any_other_name(host: str) -> None:
    answer = guarded().get("/x", headers={"Host": host})
    assert_error(answer, 400, "host_not_allowed")
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_bound_to_every_interface_any_ip_address_is_its_own_but_no_other_name() -> None:
    client = guarded(host="0.0.0.0")
    for host in ("192.168.1.20:8000", "10.0.0.7", "[fd00::5]:8000", "localhost:8000"):
        assert client.get("/x", headers={"Host": host}).status_code == 200, host
    assert_error(client.get("/x", headers={"Host": "evil.example"}), 400, "host_not_allowed")


def test_a_listed_host_replaces_the_default_and_star_answers_any() -> None:
    client = guarded(allowed_hosts="audio.example, *.corp.example")
    for host in ("audio.example", "AUDIO.example:443", "a.corp.example", "b.a.corp.example:8000"):
        assert client.get("/x", headers={"Host": host}).status_code == 200, host
    for host in ("localhost:8000", "corp.example", "evilcorp.example", "audio.example.evil"):
        assert_error(client.get("/x", headers={"Host": host}), 400, "host_not_allowed")
    assert guarded(allowed_hosts="*").get("/x", headers={"Host": "any.example"}).status_code == 200


def test_writes_from_a_page_of_another_origin_are_refused() -> None:
    client = guarded(cors_origins=APP_ORIGIN)
    for method in ("POST", "DELETE"):
        for headers in (
            {"Origin": EVIL},
            {"Origin": "null"},  # a sandboxed frame, a file:// page
            {"Origin": "http://localhost:8000"},  # another origin on this machine
            {"Sec-Fetch-Site": "cross-site"},  # a browser that sent no Origin
        ):
            answer = client.request(method, "/x", headers=headers)
            assert_error(answer, 403, "origin_not_allowed")
        for headers in (
            {},  # curl, the openai client, ffmpeg
            {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"},  # the web app
            {"Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "none"},  # typed by the user
            {"Origin": APP_ORIGIN, "Sec-Fetch-Site": "cross-site"},  # listed
        ):
            assert client.request(method, "/x", headers=headers).status_code == 200, headers
    # Reading is the browser's to refuse (no CORS headers): the guard lets it through.
    assert client.get("/x", headers={"Origin": EVIL}).status_code == 200


def test_security_headers_on_every_answer_and_the_csp_on_the_app_pages() -> None:
    client = guarded()
    page, other = client.get("/"), client.get("/x")
    for answer in (page, other):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
    assert "content-security-policy" not in other.headers


def test_the_settings_read_comma_separated_lists(monkeypatch) -> None:
    monkeypatch.setenv("AUDIODAS_ALLOWED_HOSTS", "audio.example, api ,")
    monkeypatch.setenv("AUDIODAS_CORS_ORIGINS", "https://a.example,https://b.example")
    settings = Settings()
    assert settings.allowed_hosts == ["audio.example", "api"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


# The same rules on the whole app, on every route family.


@pytest.fixture
def client(make_client):
    # Retention 0: a DELETE that passes the guard is carried out, so a refusal shows.
    return make_client(cors_origins=APP_ORIGIN, retention_days=0)


def test_a_foreign_host_is_refused_on_every_route_family(client, stored, audio_files) -> None:
    rec = f"{API}/{stored['id']}"
    foreign = {"Host": "evil.example", "Origin": "http://evil.example"}
    for method, path in [
        ("GET", API),
        ("GET", rec),
        ("GET", f"{rec}/stream"),
        ("HEAD", f"{rec}/stream"),
        ("GET", f"{rec}/events"),
        ("GET", f"{rec}/transcript"),
        ("GET", "/"),
        ("GET", "/static/app.css"),
        ("GET", "/metrics"),
        ("GET", "/healthz"),
        ("GET", "/docs"),
    ]:
        answer = client.request(method, path, headers=foreign)
        assert answer.status_code == 400, (method, path, answer.status_code)
        if method == "GET":
            assert_error(answer, 400, "host_not_allowed")
    with audio_files["short_mp3"].open("rb") as f:
        for path in (API, "/v1/audio/transcriptions"):
            f.seek(0)
            answer = client.post(path, files={"file": f}, headers=foreign)
            assert_error(answer, 400, "host_not_allowed")
    assert client.get(rec).status_code == 200  # its own address still answers


def test_cross_origin_upload_and_delete_change_nothing(client, stored, audio_files) -> None:
    before = snapshot(client)
    for origin in (EVIL, "null"):
        with audio_files["short_mp3"].open("rb") as f:
            # What a form on another site sends: no preflight, so CORS alone would not stop it.
            answer = client.post(
                API,
                files={"file": ("a.mp3", f)},
                headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"},
            )
        assert_error(answer, 403, "origin_not_allowed")
        answer = client.delete(f"{API}/{stored['id']}", headers={"Origin": origin})
        assert_error(answer, 403, "origin_not_allowed")
        answer = client.post(f"{API}/{stored['id']}/retry", headers={"Origin": origin})
        assert_error(answer, 403, "origin_not_allowed")
    assert snapshot(client) == before


def test_curl_and_the_web_app_itself_still_write(client, stored, audio_files) -> None:
    with audio_files["short_mp3"].open("rb") as f:  # curl: no Origin at all
        added = client.post(API, files={"file": ("b.mp3", f)})
    assert added.status_code == 202, added.text
    # The web app's own page deletes it (its own origin); the library is as it was.
    gone = client.delete(
        added.headers["location"],
        headers={"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"},
    )
    assert gone.status_code == 200, gone.text


def test_a_listed_origin_gets_cors_for_its_preflight_upload_and_player(
    client, stored, audio_files
) -> None:
    preflight = client.options(
        f"{API}/{stored['id']}",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert {"DELETE", "PUT"} <= set(preflight.headers["access-control-allow-methods"].split(", "))
    refused = client.options(
        API,
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers

    with audio_files["short_mp3"].open("rb") as f:
        added = client.post(API, files={"file": ("c.mp3", f)}, headers={"Origin": APP_ORIGIN})
    assert added.status_code == 202, added.text
    assert added.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "location" in added.headers["access-control-expose-headers"].lower()

    part = client.get(
        f"{added.headers['location']}/stream",
        headers={"Origin": APP_ORIGIN, "Range": "bytes=0-99"},
    )
    assert part.status_code == 206 and len(part.content) == 100
    exposed = part.headers["access-control-expose-headers"].lower()
    for name in ("content-range", "accept-ranges", "content-length", "etag"):
        assert name in exposed, exposed
    # A page of any other origin gets no CORS headers: its browser keeps the answer from it.
    other = client.get(API, headers={"Origin": EVIL})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    assert client.delete(added.headers["location"]).status_code == 200
