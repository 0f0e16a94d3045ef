"""Live transcription in Debian's Chromium: the Record page with a fake microphone that says a
known script (--use-file-for-fake-audio-capture), at desktop and phone sizes, the console
watched: words appear as they are said, the meter moves, Stop opens the recording."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.conftest import CHROMIUM, missing_in_ci
from tests.support import Server, espeak, word_error_rate
from tests.test_engine import wait_finished
from tests.test_live import SCRIPT
from tests.test_web import console_errors, shot, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("web-live") / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}
    ).start(timeout=120)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def microphone(tmp_path_factory):
    """Chromium whose microphone says SCRIPT (about 25 s) once, then silence; the permission
    granted as a user would."""
    if not os.path.exists(CHROMIUM):
        missing_in_ci("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("microphone")
    (folder / "script.txt").write_text(SCRIPT)
    talk = espeak(folder / "script.txt", folder / "talk.wav")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={talk}%noloop",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_speaking_into_the_record_page_shows_words_then_the_recording(
    server, microphone, size
) -> None:
    context = microphone.new_context(
        viewport={"width": size[0], "height": size[1]}, permissions=["microphone"]
    )
    page = context.new_page()
    errors = console_errors(page)
    try:
        page.goto(f"{server.url}/#/record")
        page.wait_for_selector("#record")
        assert "microphone" in page.inner_text("main").lower()  # asked for in words first
        page.click("#record")
        wait_until(page, "document.querySelector('#stop').disabled === false", timeout=60)
        began = time.monotonic()
        wait_until(page, "document.querySelectorAll('#live-final .final').length >= 1", 30)
        first_s = time.monotonic() - began
        wait_until(page, "document.querySelector('#level').value > 0.05", 10)
        wait_until(page, "document.querySelectorAll('#live-final .final').length >= 4", 40)
        shot(page, f"live-{size[0]}")
        said = page.inner_text("#live-final")
        time.sleep(max(0.0, 27 - (time.monotonic() - began)))  # the script, said whole
        page.click("#stop")
        wait_until(page, "location.hash.startsWith('#/recordings/')", 60)
        recording_id = page.evaluate("location.hash.split('/')[2]")
        page.wait_for_selector("h1")
        rec = wait_finished(server, recording_id, timeout=240)
        assert rec["status"] == "done", rec
        assert word_error_rate(SCRIPT, rec["transcript"]) <= 0.2, rec["transcript"]
        assert rec["duration_s"] >= 24
        assert first_s < 15, first_s
        assert word_error_rate(SCRIPT[: len(said)], said) <= 0.35, said
        assert httpx.get(f"{server.url}/api/v1/recordings/{recording_id}").status_code == 200
        assert not errors, errors
    finally:
        context.close()
