"""The official `openai` client, pointed at our server, transcribes in every response format."""

from __future__ import annotations

import re

import httpx
import pytest
from openai import OpenAI

from audiodas.adapters.storage import temp_files
from tests.support import word_error_rate
from tests.test_speech import REFERENCES


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.support import Server

    server = Server(tmp_path_factory.mktemp("openai") / "data").start()  # API only: shares AI slots
    yield OpenAI(base_url=f"{server.url}/v1", api_key="not-needed"), server
    server.stop()


def transcribe(client: OpenAI, path, **kwargs):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)


def test_json_and_text(client, assets) -> None:
    openai, _ = client
    clip = assets / "beckett.wav"
    result = transcribe(openai, clip)
    assert word_error_rate(REFERENCES["beckett.wav"], result.text) <= 0.05
    text = transcribe(openai, clip, response_format="text")
    assert isinstance(text, str) and text.strip() == result.text


def test_srt_and_vtt(client, assets) -> None:
    openai, _ = client
    srt = transcribe(openai, assets / "two_cities.wav", response_format="srt")
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S", srt)
    vtt = transcribe(openai, assets / "two_cities.wav", response_format="vtt")
    assert vtt.startswith("WEBVTT") and " --> " in vtt


def test_verbose_json_with_segments_and_words(client, assets) -> None:
    openai, _ = client
    result = transcribe(
        openai,
        assets / "beckett.wav",
        response_format="verbose_json",
        timestamp_granularities=["segment", "word"],
    )
    assert result.language == "english"
    assert result.duration == pytest.approx(9.96, abs=0.05)
    assert result.segments and result.segments[0].start >= 0
    words = [w.word.strip(".,").lower() for w in result.words]
    assert words[:2] == ["ever", "tried"]
    assert all(w.end >= w.start for w in result.words)


def test_bad_input_is_refused_with_json(client, audio_files) -> None:
    _, server = client
    with audio_files["text"].open("rb") as f:
        r = httpx.post(
            f"{server.url}/v1/audio/transcriptions", files={"file": f}, data={"model": "whisper-1"}
        )
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    with audio_files["short_mp3"].open("rb") as f:
        r = httpx.post(
            f"{server.url}/v1/audio/transcriptions",
            files={"file": f},
            data={"model": "whisper-1", "response_format": "docx"},
        )
    assert r.status_code == 400
    assert not temp_files(server.data_dir)  # nothing left behind
