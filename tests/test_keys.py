"""API keys end to end, on `audiodas serve` with keys required: made and revoked with the CLI,
used by the official `openai` client and curl-like calls, never written to a log."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support import Server, assert_error

API = "/api/v1/recordings"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("keys") / "data",
        env={"AUDIODAS_AUTH": "required", "AUDIODAS_ACCESS_CACHE_S": "0"},
    ).start()
    yield srv
    srv.stop()


def test_the_openai_client_works_with_a_key_and_fails_once_it_is_revoked(server, assets) -> None:
    key = server.create_key("upload", "openai-client")
    client = OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
    with (assets / "beckett.wav").open("rb") as f:
        heard = client.audio.transcriptions.create(model="whisper-1", file=f)
    assert "tried" in heard.text.lower()
    server.revoke_key("openai-client")
    with (assets / "beckett.wav").open("rb") as f, pytest.raises(openai.AuthenticationError):
        client.audio.transcriptions.create(model="whisper-1", file=f)


def test_scopes_from_curl_and_no_key_in_any_log(server, audio_files) -> None:
    reader, uploader = server.create_key("read", "reader"), server.create_key("upload", "up")
    with audio_files["short_mp3"].open("rb") as f:
        refused = httpx.post(f"{server.url}{API}", files={"file": f})
    assert_error(refused, 401, "unauthenticated")
    with audio_files["short_mp3"].open("rb") as f:
        too_small = httpx.post(
            f"{server.url}{API}", files={"file": f}, headers={"Authorization": f"Bearer {reader}"}
        )
    assert_error(too_small, 403, "forbidden")
    with audio_files["short_mp3"].open("rb") as f:
        added = httpx.post(
            f"{server.url}{API}", files={"file": f}, headers={"Authorization": f"Bearer {uploader}"}
        )
    assert added.status_code == 202, added.text
    rec = added.json()
    link = f"{server.url}{rec['variants']['original']['signed_url']}"
    part = httpx.get(link, headers={"Range": "bytes=0-9"})  # what an <audio> element sends
    assert part.status_code == 206 and len(part.content) == 10
    assert_error(httpx.get(link.replace("sig=", "sig=0")), 403, "link_invalid")
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # health stays open
    assert_error(httpx.get(f"{server.url}/metrics"), 401, "unauthenticated")
    wrong = httpx.get(f"{server.url}{API}", headers={"Authorization": f"Bearer {reader}x"})
    assert_error(wrong, 401, "invalid_key")
    log = server.read_log()
    for key in (reader, uploader):
        assert key.split("_", 2)[2] not in log
    assert "Bearer" not in log
