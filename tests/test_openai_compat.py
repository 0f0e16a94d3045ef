"""The official `openai` client, pointed at our server, transcribes in every response format."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from audiodas.adapters.storage import temp_files
from tests.support import human_talk, speech_assets, word_error_rate
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


def test_prompt_temperature_0_and_automatic_chunking_are_honoured(client, assets) -> None:
    openai, _ = client
    clip = assets / "beckett.wav"
    plain = transcribe(openai, clip).text
    assert plain != plain.lower()  # "Ever tried. Ever failed. ..."
    same = transcribe(openai, clip, temperature=0, chunking_strategy="auto").text
    assert same == plain
    # Whisper follows its prompt's style: a prompt in lower case gives a transcript in it.
    styled = transcribe(openai, clip, prompt="hello. umm, like, so, uh. welcome").text
    assert styled == styled.lower() and word_error_rate(plain.lower(), styled) <= 0.2


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
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    with audio_files["short_mp3"].open("rb") as f:
        r = httpx.post(
            f"{server.url}/v1/audio/transcriptions",
            files={"file": f},
            data={"model": "whisper-1", "response_format": "docx"},
        )
    assert r.status_code == 400
    assert not temp_files(server.data_dir)  # nothing left behind


def test_stream_sends_text_deltas_then_the_whole_text(client, assets) -> None:
    openai, _ = client
    with (assets / "two_cities.wav").open("rb") as f:
        events = list(openai.audio.transcriptions.create(model="whisper-1", file=f, stream=True))
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    (done,) = [e for e in events if e.type == "transcript.text.done"]
    assert len(deltas) > 1 and events[-1] is done
    assert "".join(deltas).strip() == done.text and "best of times" in done.text


def streamed(server, path: Path, *, stop_after: int | None = None) -> list[tuple[float, dict]]:
    """The events of a streamed transcription, each with the seconds since the request began;
    with `stop_after`, the client hangs up once it has that many."""
    events, start = [], time.monotonic()
    with path.open("rb") as f, httpx.stream(
        "POST", f"{server.url}/v1/audio/transcriptions", timeout=300,
        files={"file": f}, data={"model": "whisper-1", "stream": "true"},
    ) as answer:  # fmt: skip
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic() - start, json.loads(line[6:])))
                if len(events) == stop_after:
                    break
    return events


def test_stream_sends_each_segment_while_the_rest_is_transcribed(client, tmp_path) -> None:
    _, server = client
    events = streamed(server, human_talk(tmp_path))
    deltas = [at for at, e in events if e["type"] == "transcript.text.delta"]
    done_at, done = events[-1]
    assert done["type"] == "transcript.text.done" and len(deltas) == len(events) - 1
    # The first words arrive early and the rest over the transcription, not all at its end.
    assert deltas[0] < 0.5 * done_at, (deltas, done_at)
    assert deltas[-1] - deltas[0] > 0.3 * done_at, (deltas, done_at)


def inference_restarts(server) -> int:
    return httpx.get(f"{server.url}/healthz").json()["engine"]["inference"]["restarts"]


def test_a_client_that_hangs_up_mid_stream_stops_its_transcription(client, tmp_path) -> None:
    _, server = client
    before = inference_restarts(server)
    events = streamed(server, human_talk(tmp_path), stop_after=1)
    assert events[0][1]["type"] == "transcript.text.delta"
    # Its inference process is stopped (and replaced), so the slot is free well before the
    # two minutes of speech would have been transcribed.
    deadline = time.monotonic() + 20
    while inference_restarts(server) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert inference_restarts(server) == before + 1
    assert not temp_files(server.data_dir)  # its upload is gone
    again = streamed(server, speech_assets() / "beckett.wav")
    assert "tried" in again[-1][1]["text"].lower()


def test_diarized_json_names_speakers_in_order_of_appearance(client, tmp_path) -> None:
    from tests.support import espeak_dialogue

    openai, _ = client
    clip = tmp_path / "dialogue.wav"
    turns = espeak_dialogue(clip)
    plain = transcribe(openai, clip, response_format="diarized_json")
    assert [s.speaker for s in plain.segments][:2] == ["A", "B"]
    assert plain.task == "transcribe" and plain.text and plain.duration > 0
    named = transcribe(
        openai, clip, response_format="diarized_json", known_speaker_names=["Nagg", "Nell"]
    )
    first_voice = turns[0][2]
    speakers = {s.speaker for s in named.segments}
    assert speakers == {"Nagg", "Nell"} and named.segments[0].speaker == "Nagg", first_voice


def test_models_are_listed_and_found_by_name_and_alias(client) -> None:
    openai, _ = client
    ids = [m.id for m in openai.models.list()]
    assert ids == ["whisper-tiny.en", "whisper-1"]
    assert openai.models.retrieve("whisper-1").id == "whisper-1"
    from openai import NotFoundError

    with pytest.raises(NotFoundError) as missing:
        openai.models.retrieve("gpt-4o-transcribe")
    assert "no model 'gpt-4o-transcribe'" in missing.value.message


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda o, f: o.audio.transcriptions.create(model="whisper-1", file=f, language="fr"),
         "English only"),
        (lambda o, f: o.audio.translations.create(model="whisper-1", file=f),
         "AUDIODAS_WHISPER_MODEL"),
        (lambda o, f: o.audio.transcriptions.create(model="whisper-1", file=f, include=["logprobs"]),
         "include: log probabilities"),
        (lambda o, f: o.audio.transcriptions.create(
            model="whisper-1", file=f, known_speaker_references=["data:audio/wav;base64,AAAA"],
            response_format="diarized_json"), "known_speaker_references"),
        (lambda o, f: o.audio.transcriptions.create(model="whisper-1", file=f, keywords=["GDP"]),
         "keywords: keyword boosting"),
        (lambda o, f: o.audio.transcriptions.create(model="whisper-1", file=f, languages=["en", "fr"]),
         "languages: one language"),
        (lambda o, f: o.audio.transcriptions.create(model="whisper-1", file=f, temperature=0.7),
         "temperature: only 0"),
        (lambda o, f: o.audio.transcriptions.create(
            model="whisper-1", file=f, chunking_strategy={"type": "server_vad"}),
         "chunking_strategy"),
        (lambda o, f: o.audio.transcriptions.create(
            model="whisper-1", file=f, response_format="srt", stream=True), "stream=true"),
    ],
)  # fmt: skip
def test_what_cannot_be_honoured_is_refused_in_openais_shape(client, assets, call, says) -> None:
    from openai import BadRequestError

    openai, _ = client
    with (assets / "beckett.wav").open("rb") as f, pytest.raises(BadRequestError) as refused:
        call(openai, f)
    assert says in refused.value.message, refused.value.message
    assert refused.value.body["type"] == "invalid_request_error"
    assert refused.value.code == "invalid_field"


FRENCH = (
    "Bonjour à tous. Aujourd'hui nous parlons de la banque centrale, de l'inflation et des "
    "taux d'intérêt. Les prix de l'énergie ont augmenté le mois dernier."
)


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    """A server on the multilingual Whisper base (`audiodas models whisper-base`)."""
    import subprocess
    import sys

    from tests.support import Server

    folder = tmp_path_factory.mktemp("base")
    subprocess.run(
        [sys.executable, "-m", "audiodas", "models", "whisper-base", "--output", str(folder / "m")],
        check=True, capture_output=True,
    )  # fmt: skip
    server = Server(folder / "data", env={"AUDIODAS_WHISPER_MODEL": str(folder / "m")}).start()
    french = folder / "french.wav"
    subprocess.run(["espeak-ng", "-v", "fr", "-s", "140", "-w", str(french), FRENCH], check=True)
    yield OpenAI(base_url=f"{server.url}/v1", api_key="not-needed"), french
    server.stop()


def test_a_multilingual_model_honours_language_and_translates(multilingual) -> None:
    openai, french = multilingual
    assert [m.id for m in openai.models.list()] == ["m", "whisper-1"]
    heard = transcribe(openai, french, language="fr", response_format="verbose_json")
    assert heard.language == "french" and {"bonjour", "prix"} <= set(heard.text.lower().split())
    with french.open("rb") as f:
        english = openai.audio.translations.create(model="whisper-1", file=f)
    # Into English (what the words are, whisper base on synthetic French varies from run to
    # run): none of the French it heard, English words instead.
    words = set(english.text.lower().replace(",", " ").replace(".", " ").split())
    assert words and not words & {"bonjour", "les", "prix", "de", "la", "nous"}, english.text
    assert words & {"the", "to", "and", "of", "is", "you", "we", "hello", "everyone", "bank"}
