"""The browser check on files of real length: it hears the first minute of a talk whatever its
length, reads and decodes only that minute, and a file it refuses can still be sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing_in_ci
from tests.support import Server, long_talks
from tests.test_web import WEB_MODELS, card, shot, wait_state


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Uploads are stored, not processed: these tests are about the browser's check."""
    if not (WEB_MODELS / "whisper-tiny.en" / "manifest.json").exists():
        missing_in_ci("the browser model is not built (audiodas models build-web)")
    srv = Server(
        tmp_path_factory.mktemp("web-long") / "data",
        env={"AUDIODAS_WEB_MODEL_DIR": str(WEB_MODELS)},
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def talks(tmp_path_factory) -> dict[str, Path]:
    return long_talks(tmp_path_factory.mktemp("talks"))


CASES = [  # topic, file, verdict, words the check must have heard
    ("economics", "economics_35s.wav", "uploaded", ["inflation", "central bank"]),
    ("economics", "economics_60s.wav", "uploaded", ["inflation", "interest rates"]),
    ("economics", "economics_97s.wav", "uploaded", ["inflation", "interest rates"]),
    ("economics", "economics_4min.mp3", "uploaded", ["inflation", "interest rates"]),
    ("economics", "economics_1h.mp3", "uploaded", ["inflation", "interest rates"]),
    ("economics", "late_topic_69s.wav", "uploaded", ["best of times", "inflation"]),
    ("economics", "cooking_97s.wav", "rejected", ["oven"]),
    ("economics", "human_127s.wav", "rejected", ["best of times", "age of wisdom"]),
    ("", "human_127s.wav", "uploaded", ["best of times"]),
]


@pytest.mark.parametrize(("topic", "name", "verdict", "heard"), CASES)
def test_a_talk_of_any_length_is_judged_on_its_first_minute(
    server, page, talks, topic: str, name: str, verdict: str, heard: list[str]
) -> None:
    page.goto(f"{server.url}/#/upload")
    page.select_option("#topic", topic)
    page.set_input_files("#files", str(talks[name]))
    assert wait_state(page, name) == verdict, card(page, name).inner_text()
    text = card(page, name).get_attribute("data-edge-text").lower()
    assert all(words in text for words in heard), text
    timings = json.loads(card(page, name).get_attribute("data-timings"))
    assert timings["opening_s"] <= 60.01, timings  # the rest was neither read nor decoded
    if verdict == "rejected":
        assert card(page, name).locator(".upload-anyway").is_visible()


def test_a_refused_file_can_be_sent_anyway_or_checked_against_another_topic(
    server, page, talks
) -> None:
    page.goto(f"{server.url}/#/upload")
    page.select_option("#topic", "economics")
    page.set_input_files("#files", str(talks["cooking_97s.wav"]))
    refused = card(page, "cooking_97s.wav")
    assert wait_state(page, "cooking_97s.wav") == "rejected"
    shot(page, "upload-refused-offers")
    refused.locator(".change-topic").select_option("cooking")
    assert wait_state(page, "cooking_97s.wav") == "uploaded", refused.inner_text()
    assert refused.get_attribute("data-topic") == "cooking"
    first = refused.get_attribute("data-recording-id")

    page.set_input_files("#files", str(talks["human_127s.wav"]))
    sent = card(page, "human_127s.wav").last
    assert wait_state(page, "human_127s.wav") == "rejected"
    sent.locator(".upload-anyway").click()
    assert wait_state(page, "human_127s.wav") == "uploaded", sent.inner_text()
    second = sent.get_attribute("data-recording-id")
    stored = {r: httpx.get(f"{server.url}/api/v1/recordings/{r}").json() for r in (first, second)}
    # Sent anyway under the topic chosen: the server's own topic check applies to it.
    assert stored[second]["domain"] == "economics" and stored[first]["domain"] == "cooking"
