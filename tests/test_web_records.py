"""Legal holds as the web app shows them, in Debian's Chromium: the reason on the recording's
page and in the library, and no Delete offered while the hold stands."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Server
from tests.test_web import console_errors, wait_until

API = "/api/v1/recordings"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web-records") / "data",
                 env={"AUDIODAS_RETENTION_DAYS": "0"}).start()  # fmt: skip
    yield srv
    srv.stop()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_a_hold_and_its_reason_are_shown_and_delete_is_not_offered(
    server, page, audio_files, size
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    errors = console_errors(page)
    with audio_files["short_mp3"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": (f"held-{size[0]}.mp3", f)}).json()
    held = httpx.put(f"{server.url}{API}/{rec['id']}/hold", json={"reason": "litigation 42"})
    assert held.status_code == 200
    page.goto(f"{server.url}/#/recordings/{rec['id']}")
    wait_until(page, "document.querySelector('#held').textContent.includes('litigation 42')")
    assert page.locator("#held").is_visible()
    assert not page.locator("#delete, button.delete-recording").is_visible()
    page.goto(f"{server.url}/#/library")
    row = page.locator("tr", has_text=f"held-{size[0]}.mp3")
    row.wait_for()
    assert "Legal hold: litigation 42" in row.inner_text()
    assert row.locator("button.delete").count() == 0
    assert not errors, errors


def test_a_recording_whose_original_is_gone_plays_its_archive_and_says_so(
    tmp_path, page, audio_files
) -> None:
    server = Server(tmp_path / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true",
                                            "AUDIODAS_ORIGINAL_RETENTION_DAYS": "0",
                                            "AUDIODAS_ORIGINAL_SWEEP_S": "1"}).start()  # fmt: skip
    try:
        errors = console_errors(page)
        with audio_files["short_mp3"].open("rb") as f:
            rec = httpx.post(f"{server.url}{API}", files={"file": ("gone.mp3", f)}).json()
        url = f"{server.url}{API}/{rec['id']}"
        for _ in range(600):
            if httpx.get(url).json()["original_removed_at"]:
                break
            page.wait_for_timeout(200)
        else:
            raise AssertionError("the original was not removed")
        page.goto(f"{server.url}/#/recordings/{rec['id']}")
        wait_until(page, "document.querySelector('[data-variant=original]')?.textContent"
                         ".includes('removed')")  # fmt: skip
        wait_until(page, "document.querySelector('audio').readyState >= 1")  # it loaded
        assert "variant=archive" in page.evaluate("document.querySelector('audio').src")
        assert page.locator("#variant option").all_inner_texts()[0].startswith("Archive")
        assert not errors, errors
    finally:
        server.stop()


def test_an_administrator_puts_a_hold_and_releases_it_from_the_recording_page(
    server, page, audio_files
) -> None:
    errors = console_errors(page)
    with audio_files["short_mp3"].open("rb") as f:
        rec = httpx.post(f"{server.url}{API}", files={"file": ("dispute.mp3", f)}).json()
    page.goto(f"{server.url}/#/recordings/{rec['id']}")
    page.locator("#hold").click()
    page.locator("#hold-reason").fill("Subpoena 2026-31")
    page.locator("#hold-form button[type=submit]").click()
    wait_until(page, "document.querySelector('#held').textContent.includes('Subpoena 2026-31')")
    hold = httpx.get(f"{server.url}{API}/{rec['id']}").json()["hold"]
    assert hold["reason"] == "Subpoena 2026-31"
    assert not page.locator("#delete").is_visible()
    page.locator("#hold").click()  # now "Release the hold…"
    page.locator("#hold-reason").fill("Case closed")
    page.locator("#hold-form button[type=submit]").click()
    wait_until(page, "!document.querySelector('#delete').hidden")  # retention is 0 days here
    assert httpx.get(f"{server.url}{API}/{rec['id']}").json()["hold"] is None
    trail = httpx.get(f"{server.url}/api/v1/audit", params={"recording_id": rec["id"]}).json()
    assert [e["action"] for e in trail["items"]][:2] == ["release", "hold"]
    assert trail["items"][0]["detail"]["reason"] == "Case closed"
    assert not errors, errors
