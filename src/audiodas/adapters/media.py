"""Probing audio with PyAV (libav in-process; no ffprobe needed)."""

from __future__ import annotations

from pathlib import Path

import av

from audiodas.domain import AudioInfo, Rejected

# Container format (as libav names it) -> (MIME type, file extension).
_FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("audio/wav", "wav"),
    "mp3": ("audio/mpeg", "mp3"),
    "flac": ("audio/flac", "flac"),
    "ogg": ("audio/ogg", "ogg"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", "m4a"),
    "matroska,webm": ("audio/webm", "webm"),
    "aac": ("audio/aac", "aac"),
    "aiff": ("audio/aiff", "aiff"),
    "amr": ("audio/amr", "amr"),
}

# More channels than 7.1 have no layout FFmpeg or the transcription's resampler can mix down
# (FFmpeg: "Rematrix is needed"), so such files are refused at upload.
MAX_CHANNELS = 8

# A file whose last frames end this much before its stated duration is truncated.
_TAIL_TOLERANCE_S = 2.0
_TAIL_WINDOW_S = 1.0

# libav reads up to 5 MB to analyse a file's streams: for a WAV that is about 10 ms of CPU in
# the HTTP process per upload, against 1-2 ms with 32 KiB, which is enough for every accepted
# format (tests/integration/test_probe.py; the first frame is decoded here anyway).
_QUICK_LOOK = {"probesize": str(32 << 10)}


def probe(path: Path) -> AudioInfo:
    """Describe an audio file, or raise Rejected(NOT_AUDIO) if it cannot be decoded as audio.

    Decodes the first frames and the last second, so text, images and files that are cut short
    or corrupt are refused without decoding everything in between.
    """
    try:
        with av.open(str(path), metadata_errors="ignore", options=_QUICK_LOOK) as container:
            format_name = container.format.name
            if format_name not in _FORMATS:
                raise _not_audio(f"container '{format_name}' is not a supported audio format")
            if not container.streams.audio:
                raise _not_audio("the file has no audio stream")
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            first = next(container.decode(stream), None)
            if first is None:
                raise _not_audio("no audio could be decoded")
            if first.layout.nb_channels > MAX_CHANNELS:
                raise _not_audio(
                    f"the audio has {first.layout.nb_channels} channels; at most {MAX_CHANNELS} "
                    "(7.1) are taken: mix it down to stereo or mono first"
                )
            duration = _duration(container, stream)
            if duration <= 0:
                raise _not_audio("the audio has no duration")
            _check_tail(container, stream, duration)
            if format_name == "wav":
                _check_wav_sizes(path)
            content_type, extension = _FORMATS[format_name]
            return AudioInfo(
                format_name=format_name,
                content_type=content_type,
                extension=extension,
                codec=codec,
                duration_s=round(duration, 3),
                sample_rate=first.sample_rate,
                channels=first.layout.nb_channels,
            )
    except Rejected:
        raise
    except (av.error.FFmpegError, StopIteration, ValueError, OSError) as exc:
        raise _not_audio(f"not decodable as audio ({exc.__class__.__name__})") from exc


def _duration(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    # No header states it: count the frames (rare: raw streams).
    container.seek(0)
    end = 0.0
    for frame in container.decode(stream):
        if frame.time is not None:
            end = frame.time + frame.samples / frame.sample_rate
    return end


def _check_tail(
    container: av.container.InputContainer, stream: av.audio.AudioStream, duration: float
) -> None:
    """The frames must reach (nearly) the stated end: a cut-short file stops well before it."""
    start = max(0.0, duration - _TAIL_WINDOW_S)
    if stream.time_base is not None:
        container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
    else:
        container.seek(int(start * av.time_base), backward=True)
    end = None
    for frame in container.decode(stream):
        if frame.time is not None:
            end = frame.time + frame.samples / frame.sample_rate
    if end is None or end < duration - _TAIL_TOLERANCE_S:
        stated = f"{duration:.1f} s"
        found = "nothing" if end is None else f"{end:.1f} s"
        raise _not_audio(
            f"the audio is truncated or corrupt: it states {stated}, decodes to {found}"
        )


def _check_wav_sizes(path: Path) -> None:
    """libav clamps a WAV's duration to the bytes present, so a WAV cut short, or whose header
    lies about its sizes, looks whole; FFmpeg then fails on it. The header still states the
    sizes: RIFF for the file, `data` for the audio. 0 and 0xFFFFFFFF mean "unknown" (written by
    streaming recorders) and are accepted."""
    actual = path.stat().st_size
    with open(path, "rb") as file:
        riff = file.read(12)
        if riff[:4] != b"RIFF":
            return
        declared = int.from_bytes(riff[4:8], "little")
        if declared not in _UNKNOWN_SIZE and declared + 8 > actual:
            raise _not_audio(
                f"the WAV file is truncated: its header states {declared + 8} bytes, it has {actual}"
            )
        offset = 12
        while offset + 8 <= actual:
            file.seek(offset)
            chunk = file.read(8)
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                present = actual - offset - 8
                if size not in _UNKNOWN_SIZE and size > present:
                    raise _not_audio(
                        f"the WAV header states {size} bytes of audio; the file holds {present}"
                    )
                return
            offset += 8 + size + (size & 1)  # chunks are padded to even sizes


_UNKNOWN_SIZE = (0, 0xFFFFFFFF)


def _not_audio(detail: str) -> Rejected:
    return Rejected(Rejected.NOT_AUDIO, detail)
