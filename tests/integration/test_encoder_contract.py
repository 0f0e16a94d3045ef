"""The Encoder port's contract, run against its twin (audiodas.testing.FakeEncoder) and FFmpeg
(adapters/ffmpeg.py): `encode` writes the variant to `target` and returns that file's SHA-256
and size; one that cannot raises with a one-line reason, and the pipeline fails the stage.

    (Encoder, FakeEncoder)  (Encoder, FFmpegEncoder)"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from audiodas.adapters.ffmpeg import FFmpegEncoder, ffmpeg_binary
from audiodas.domain import VariantName
from audiodas.testing import FakeEncoder


def encoders(failing: bool):  # type: ignore[no-untyped-def]
    return {
        "twin": FakeEncoder(
            RuntimeError("FFmpeg failed (exit 1): Invalid data") if failing else None
        ),
        "ffmpeg": FFmpegEncoder(ffmpeg_binary(None), nice=0, idle_policy=False),
    }


@pytest.mark.parametrize("kind", ["twin", "ffmpeg"])
@pytest.mark.parametrize("variant", [VariantName.ARCHIVE, VariantName.ECHO])
def test_an_encoding_returns_the_hash_and_size_of_what_it_wrote(
    kind, variant, audio_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"out.{'m4a' if variant == VariantName.ARCHIVE else 'mp3'}"
    sha256, size = asyncio.run(
        encoders(False)[kind].encode(
            variant, audio_files["short_mp3"], target, channels=1, timeout=60
        )
    )
    data = target.read_bytes()
    assert size == len(data) > 0 and sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", ["twin", "ffmpeg"])
def test_what_cannot_be_encoded_raises_one_line(kind, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception) as failed:  # noqa: PT011 - each encoder has its own class
        asyncio.run(
            encoders(True)[kind].encode(
                VariantName.ARCHIVE, audio_files["text"], tmp_path / "out.m4a",
                channels=1, timeout=60,
            )
        )  # fmt: skip
    reason = str(failed.value)
    assert reason.startswith("FFmpeg failed") and "\n" not in reason
