"""`stream=true` when the inference fails, through the official client: before the first
segment it is an ordinary OpenAI-shaped error; after it, an `error` event the client raises."""

from __future__ import annotations

import openai
import pytest

from audiodas.adapters.storage import temp_files
from audiodas.inference import InferenceBusy, InferenceFailed
from audiodas.testing import FakeInference
from tests.api.conftest import BASE_URL


def stream(client, path):  # type: ignore[no-untyped-def]
    # No retries: the client would wait out Retry-After twice before raising.
    official = openai.OpenAI(
        base_url=f"{BASE_URL}/v1", api_key="-", http_client=client, max_retries=0
    )
    with path.open("rb") as f:
        return list(official.audio.transcriptions.create(model="whisper-1", file=f, stream=True))


def test_no_slot_before_the_first_segment_is_a_503_to_retry(make_client, audio_files) -> None:
    client = make_client(inference=FakeInference(failure=InferenceBusy("every AI slot busy")))
    with pytest.raises(openai.APIStatusError) as refused:
        stream(client, audio_files["short_mp3"])
    assert refused.value.status_code == 503
    assert refused.value.response.headers["retry-after"] == "5"
    assert refused.value.body["code"] == "inference_busy"
    assert not temp_files(client.data_dir)


def test_a_failure_after_the_first_segment_ends_the_stream_with_an_error(
    make_client, audio_files
) -> None:
    died = FakeInference("Hello world.", failure=InferenceFailed("the inference process died"))
    client = make_client(inference=died)
    # No retries: the client would wait out Retry-After twice before raising.
    official = openai.OpenAI(
        base_url=f"{BASE_URL}/v1", api_key="-", http_client=client, max_retries=0
    )
    events = []
    with pytest.raises(openai.APIError) as failed:
        with audio_files["short_mp3"].open("rb") as f:
            for event in official.audio.transcriptions.create(
                model="whisper-1", file=f, stream=True
            ):
                events.append(event)
    assert [e.delta for e in events] == ["Hello world."]  # what was heard reached the client
    assert "transcription failed: the inference process died" in failed.value.message
    assert not temp_files(client.data_dir)
