"""Speaker labels on real speech and synthetic voices: the transcriber's diarization (the speaker
encoder's weights from set-up, Whisper tiny.en), and through a server end to end."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import httpx
import numpy as np
import pytest

from audiodas.inference.models.speakers import MAX_CLUSTERED, cluster
from audiodas.inference.models.whisper import WhisperTranscriber
from tests.support import ENDGAME_KEY, Server, espeak_dialogue, score_speakers
from tests.test_engine import API, upload, wait_finished

ENDGAME = "endgame_nagg_nell.wav"


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber()


def diarized(transcriber, path: Path, speakers: int | None = None) -> list[dict]:
    transcript = transcriber.transcribe(path, word_timestamps=True, diarize=True, speakers=speakers)
    assert transcript.words and all(w.speaker for w in transcript.words)
    return [asdict(s) for s in transcript.segments]


def labels(segments: list[dict]) -> list[str]:
    return list(dict.fromkeys(s["speaker"] for s in segments))


def test_two_voices_turn_by_turn_against_the_hand_made_key(transcriber, assets) -> None:
    segments = diarized(transcriber, assets / ENDGAME)
    assert labels(segments) == ["S1", "S2"]  # counted, not told
    found = score_speakers(ENDGAME_KEY, segments)
    # Measured: every one of the 13 turn changes, nothing confused.
    assert found.changes == 13 and found.found >= 12
    assert found.confusion <= 0.05


def test_synthetic_voices_with_known_turns(transcriber, tmp_path) -> None:
    turns = espeak_dialogue(tmp_path / "dialogue.wav")
    segments = diarized(transcriber, tmp_path / "dialogue.wav")
    assert labels(segments) == ["S1", "S2"]
    found = score_speakers(turns, segments)
    assert found.found == found.changes == 5
    assert found.confusion <= 0.05


@pytest.mark.parametrize("clip", ["two_cities.wav", "beckett.wav", "clone-test.wav"])
def test_one_voice_is_one_speaker(transcriber, assets, clip) -> None:
    segments = diarized(transcriber, assets / clip)
    assert segments and labels(segments) == ["S1"]


def test_the_count_given_is_honoured(transcriber, assets, tmp_path) -> None:
    assert labels(diarized(transcriber, assets / ENDGAME, speakers=1)) == ["S1"]
    segments = diarized(transcriber, assets / ENDGAME, speakers=2)
    assert labels(segments) == ["S1", "S2"]
    assert score_speakers(ENDGAME_KEY, segments).confusion <= 0.05


def test_clustering_stays_bounded_for_long_recordings() -> None:
    # An hour in 0.5 s steps: two voices, the clustering sees at most MAX_CLUSTERED of them.
    rng = np.random.default_rng(7)
    voices = rng.normal(size=(2, 256))
    which = np.repeat([0, 1, 0, 1], 1800)
    embeddings = voices[which] + rng.normal(scale=0.6, size=(len(which), 256))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    embeddings = embeddings.astype(np.float32)
    assert len(embeddings) > 10 * MAX_CLUSTERED
    centres = cluster(embeddings)
    assert centres.shape == (2, 256)
    found = np.argmax(embeddings @ centres.T, axis=1)
    assert (found == found[0]).sum() == 3600 and (found[which == 0] == found[0]).all()
    assert len(cluster(embeddings, speakers=3)) == 3


def test_a_server_labels_speakers_and_exports_them(tmp_path, assets) -> None:
    server = Server(tmp_path / "data", env={"AUDIODAS_EMBEDDED_WORKER": "true"}).start()
    try:
        rec = upload(server, assets / ENDGAME, speakers="2")
        assert wait_finished(server, rec["id"])["status"] == "done"
        url = f"{server.url}{API}/{rec['id']}"
        body = httpx.get(f"{url}/transcript", params={"format": "json"}).json()
        assert [s["id"] for s in body["speakers"]] == ["S1", "S2"]
        assert score_speakers(ENDGAME_KEY, body["segments"]).confusion <= 0.05
        assert httpx.put(f"{url}/speakers", json={"S1": "Nagg", "S2": "Nell"}).status_code == 200
        srt = httpx.get(f"{url}/transcript", params={"format": "srt"}).text
        assert "Nagg: " in srt and "Nell: Yes." in srt
        vtt = httpx.get(f"{url}/transcript", params={"format": "vtt"}).text
        assert "<v Nagg>" in vtt and "<v Nell>Yes." in vtt
    finally:
        server.stop()


def test_diarization_can_be_turned_off(tmp_path, assets) -> None:
    server = Server(
        tmp_path / "data",
        env={"AUDIODAS_EMBEDDED_WORKER": "true", "AUDIODAS_DIARIZE": "false",
             "AUDIODAS_SPEAKER_MODEL": str(tmp_path / "none.npz")},
    ).start()  # fmt: skip
    try:
        rec = upload(server, assets / ENDGAME)
        assert wait_finished(server, rec["id"])["status"] == "done"
        body = httpx.get(f"{server.url}{API}/{rec['id']}/transcript?format=json").json()
        assert body["speakers"] == [] and all(s["speaker"] is None for s in body["segments"])
        assert "Yes." in httpx.get(f"{server.url}{API}/{rec['id']}/transcript?format=srt").text
    finally:
        server.stop()
