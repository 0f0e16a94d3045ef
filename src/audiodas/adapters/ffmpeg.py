"""FFmpeg as a subprocess: the archive (AAC in MP4) and echo (aecho + MP3) encodings.

Never on the event loop's thread, never reading stdin, only local files as input, a timeout,
and killed and reaped when cancelled. Runs under `nice` so that the API keeps its latency.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

import imageio_ffmpeg

from audiodas.adapters.storage import sha256_of
from audiodas.domain import VariantName

# Same input, same bytes: no encoder version, creation time or other metadata in the output.
_REPRODUCIBLE = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]


log = logging.getLogger(__name__)


class FFmpegError(Exception):
    """One line for people (stage errors are shown by the API); the whole output is logged."""


def ffmpeg_binary(configured: str | None) -> str:
    return configured or imageio_ffmpeg.get_ffmpeg_exe()


def archive_args(source: Path, target: Path, channels: int) -> list[str]:
    bitrate = "96k" if channels == 1 else "160k"
    return [
        *_input(source), "-map", "0:a:0", "-vn", "-ac", str(min(channels, 2)),
        "-c:a", "aac", "-b:a", bitrate, *_REPRODUCIBLE, "-movflags", "+faststart",
        "-f", "mp4", str(target),
    ]  # fmt: skip


def echo_args(source: Path, target: Path) -> list[str]:
    return [
        *_input(source), "-map", "0:a:0", "-vn", "-af", "aecho=0.8:0.9:500:0.3",
        "-c:a", "libmp3lame", "-b:a", "96k", *_REPRODUCIBLE, "-write_xing", "1",
        "-f", "mp3", str(target),
    ]  # fmt: skip


def _input(source: Path) -> list[str]:
    # -xerror: a damaged compressed stream fails the stage instead of encoding around the damage.
    # Not for PCM WAV, which has nothing to decode wrongly: a WAV written by a streaming
    # recorder states no length and ends with a short packet that -xerror would call corrupt
    # (a WAV cut shorter than its header says is refused at upload).
    strict = [] if source.suffix == ".wav" else ["-xerror"]
    return [*strict, "-protocol_whitelist", "file", "-i", str(source)]


async def run_ffmpeg(
    binary: str, args: list[str], *, timeout: float, nice: int = 10, idle_policy: bool = False
) -> None:
    """Run one FFmpeg job; raise FFmpegError with its own message when it fails."""
    command = [binary, "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    # nice and chrt exec: the pid stays FFmpeg's.
    if nice and shutil.which("nice"):
        command = ["nice", "-n", str(nice), *command]
    if idle_policy and shutil.which("chrt"):
        command = ["chrt", "--idle", "0", *command]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException as exc:  # timeout or cancellation: leave no process behind
        if process.returncode is None:
            process.kill()
            await process.wait()
        if isinstance(exc, TimeoutError):
            raise FFmpegError(f"FFmpeg took longer than {timeout:.0f} s and was stopped") from exc
        raise
    if process.returncode != 0:
        output = stderr.decode(errors="replace")
        log.warning("FFmpeg exited %d: %s\n%s", process.returncode, " ".join(command), output)
        raise FFmpegError(f"FFmpeg failed (exit {process.returncode}): {_cause(output)}")


_CONTEXT = re.compile(r"^(\[[^\]]*\]\s*)+")  # "[in#0/wav @ 0x55d5...] "
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")


def _cause(output: str) -> str:
    """FFmpeg's first complaint, without its context prefix or memory addresses: the lines after
    it ("Terminating thread...", "Conversion failed!") are consequences."""
    for line in output.splitlines():
        line = _ADDRESS.sub("", _CONTEXT.sub("", line.strip())).strip()
        if line:
            return line[:200]
    return "no message"


class FFmpegEncoder:
    """The Encoder port: the archive (AAC) and the echo-filtered MP3, by FFmpeg at the heavy
    work's priority."""

    def __init__(self, binary: str, *, nice: int, idle_policy: bool) -> None:
        self.binary, self.nice, self.idle_policy = binary, nice, idle_policy

    async def encode(
        self, variant: VariantName, source: Path, target: Path, *, channels: int, timeout: float
    ) -> tuple[str, int]:
        args = (
            archive_args(source, target, channels)
            if variant == VariantName.ARCHIVE
            else echo_args(source, target)
        )
        await run_ffmpeg(
            self.binary, args, timeout=timeout, nice=self.nice, idle_policy=self.idle_policy
        )
        return await asyncio.to_thread(sha256_of, target)
