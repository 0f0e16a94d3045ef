"""A live transcription session: audio as it is spoken (16 kHz mono 16-bit little-endian PCM),
text as it settles (domain/live.py), and at the end an ordinary recording of all of it.

The audio goes to a file in this process's temp folder as it arrives (nothing of it is held
in memory but the stretch being decoded); the stretch not yet settled is decoded about once a
second, and at once when a pause begins, by the engine's live pool (one decoding at a time
per session). `finish` settles the rest and hands the whole as a WAV to `ingest`: from there
it is an upload like any other (archive, echo, the full-quality transcript, summary,
webhooks). A process that dies mid-session leaves only its temp file, which the next start
removes: nothing half-written reaches the store or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import struct
import sys
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from anyio import to_thread

from audiodas.config import Settings
from audiodas.domain import Recording, Rejected, Segment
from audiodas.domain.live import SENTENCE_PAUSE_S, settle
from audiodas.services.ports import BlobStore, LiveDecoder

log = logging.getLogger("audiodas.live")

SAMPLE_RATE = 16_000
BYTES_PER_S = 2 * SAMPLE_RATE
DECODE_EVERY_S = 2.0  # new audio that calls for a decoding
MAX_DECODE_S = 30.0  # Whisper's window: a longer backlog is decoded in turns
DECODE_TIMEOUT_S = 30.0
FAILURES_IN_A_ROW = 3  # failed decodings that end a session (fewer are tried again)
RETRY_AFTER_S = 0.5
MIN_SPEECH_RMS = 200.0  # about -44 dBFS: quieter is never speech
_SPOKEN_S = 0.3  # a tail's pause counts once this much of it may have been speech
_FRAME = 320  # samples: 20 ms

Send = Callable[[dict], Awaitable[None]]
# RecordingService.ingest: (staged, filename, domain, callback_url, speakers) -> Recording
Ingest = Callable[..., Recording]


@dataclass
class Pause:
    at_s: float  # where the speech before it ended
    length_s: float  # as heard so far


class Pauses:
    """Where the speech pauses: a 20 ms frame is speech when it is louder than MIN_SPEECH_RMS
    and three times the noise floor (which follows the quietest frames down at once and up
    slowly). Silence of SENTENCE_PAUSE_S or more is a pause (`found`, in order)."""

    def __init__(self) -> None:
        self.floor = 0.0  # rises to the room's noise within seconds; speech does not start it
        self.silence_s = 0.0  # at the end of what was heard
        self.found: list[Pause] = []
        self._heard_s = 0.0
        self._rest = b""

    def add(self, pcm: bytes) -> None:
        data = self._rest + pcm
        whole = len(data) - len(data) % (2 * _FRAME)
        self._rest = data[whole:]
        samples = array("h", data[:whole])
        if sys.byteorder == "big":
            samples.byteswap()
        for at in range(0, len(samples), _FRAME):
            frame = samples[at : at + _FRAME]
            rms = math.sqrt(sum(map(int.__mul__, frame, frame)) / _FRAME)
            self._heard_s += _FRAME / SAMPLE_RATE
            self.floor = min(rms, self.floor * 1.005 + 0.5)
            if rms > max(MIN_SPEECH_RMS, 3 * self.floor):
                self.silence_s = 0.0
                continue
            self.silence_s += _FRAME / SAMPLE_RATE
            if self.silence_s >= SENTENCE_PAUSE_S:
                at_s = round(self._heard_s - self.silence_s, 3)
                if self.found and self.found[-1].at_s == at_s:
                    self.found[-1].length_s = self.silence_s
                else:
                    self.found.append(Pause(at_s, self.silence_s))

    def first_after(self, seconds: float) -> Pause | None:
        """The first pause after speech that began at `seconds` (earlier ones are dropped)."""
        self.found = [p for p in self.found if p.at_s > seconds]
        return self.found[0] if self.found else None


class LiveSession:
    def __init__(
        self,
        decoder: LiveDecoder,
        store: BlobStore,
        ingest: Ingest,
        settings: Settings,
        send: Send,
        *,
        domain: str | None = None,
        speakers: str | None = None,
        language: str | None = None,
    ) -> None:
        """`send`: each message for the client (`partial`, `final`), in order."""
        self.decoder, self.store, self.ingest, self.send = decoder, store, ingest, send
        self.settings = settings
        self.domain, self.speakers, self.language = domain, speakers, language
        self.pcm = store.scratch(".pcm")
        self.tail = store.scratch(".pcm")  # the stretch being decoded
        self._file = self.pcm.open("wb")
        self.received = 0  # bytes
        # The longest session the store keeps: an upload's limits.
        self.max_bytes = 2 * int(
            min(settings.max_duration_s * BYTES_PER_S, settings.max_upload_bytes - 44) // 2
        )
        self.pauses = Pauses()
        self.settled_s = 0.0
        self.decoded_to_s = 0.0
        self.open: list[Segment] = []  # decoded, not settled
        self.finals: list[Segment] = []
        self.decodings = 0
        self._partial = ""
        self._wake = asyncio.Event()
        self._stopping = False
        self.began = datetime.now(UTC)

    @property
    def heard_s(self) -> float:
        return self.received / BYTES_PER_S

    @property
    def backlog_s(self) -> float:
        """Audio heard and not settled yet."""
        return self.heard_s - self.settled_s

    @property
    def full(self) -> bool:
        return self.received >= self.max_bytes

    def add(self, pcm: bytes) -> None:
        """Audio as it arrives (an even number of bytes); what passes the session's limit is
        not kept (`full` says when it is reached)."""
        pcm = pcm[: max(0, self.max_bytes - self.received)]
        self._file.write(pcm)
        self.received += len(pcm)
        self.pauses.add(pcm)
        new_s = self.heard_s - self.decoded_to_s
        pausing = (
            self.pauses.silence_s >= SENTENCE_PAUSE_S and self.backlog_s > self.pauses.silence_s
        )
        if new_s >= DECODE_EVERY_S or (pausing and new_s > 0.1):
            self._wake.set()

    async def run(self) -> None:
        """Decode as audio comes, until `stop_running`. A failed decoding is tried again (a
        models' process that died is replaced by then); the third failure in a row ends it,
        raising what the last one raised (the engine gone: a restart)."""
        failures = 0
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self._step(closing=False)
            except Exception as exc:
                failures += 1
                if failures >= FAILURES_IN_A_ROW:
                    raise
                log.warning("live session: decoding failed (%s); trying again", exc)
                await asyncio.sleep(RETRY_AFTER_S)
                self._wake.set()
            else:
                failures = 0

    def stop_running(self) -> None:
        """`run` returns after the decoding under way (a decoding is never cut: the line to
        the engine would be left out of step)."""
        self._stopping = True
        self._wake.set()

    async def finish(self, *, decode: bool = True) -> Recording:
        """Settle what is left (`decode=False`: the engine is gone, the recording's own
        transcription will hear it) and keep the whole session as a recording."""
        if decode:
            try:
                while True:
                    await self._step(closing=True)
                    if self.settled_s >= self.heard_s - 0.01:
                        break
            except Exception as exc:  # noqa: BLE001 - the engine stopping (a restart): kept anyway
                log.warning("live session: the rest not decoded (%s); kept as a recording", exc)
        return await to_thread.run_sync(self._keep)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self.pcm.unlink(missing_ok=True)
        self.tail.unlink(missing_ok=True)

    async def _step(self, *, closing: bool) -> None:
        """Decode the tail (up to its first pause: an utterance, whole) and settle it."""
        start_s, end_s = self.settled_s, self.heard_s
        stop_s, pause_s = min(end_s, start_s + MAX_DECODE_S), 0.0
        pause = self.pauses.first_after(start_s + _SPOKEN_S)
        if pause is not None and pause.at_s < stop_s:
            stop_s = min(end_s, pause.at_s + min(pause.length_s, SENTENCE_PAUSE_S))
            pause_s = pause.length_s
        else:
            pause = None
            if stop_s == end_s:
                pause_s = self.pauses.silence_s
        last = stop_s == end_s
        decoded = await self._decode(start_s, stop_s) if stop_s - start_s >= 0.05 else []
        if pause is not None:  # heard (once decoded): what it did not settle waits for more
            self.pauses.found.remove(pause)
        settled = settle(
            decoded, self.open, start_s=start_s, end_s=stop_s, pause_s=pause_s,
            closing=closing and last,
        )  # fmt: skip
        self.decoded_to_s, self.settled_s, self.open = stop_s, settled.to_s, settled.rest
        waiting = any(p.at_s > self.settled_s + _SPOKEN_S for p in self.pauses.found)
        if waiting or self.heard_s - stop_s >= DECODE_EVERY_S:
            self._wake.set()  # more is waiting (a pause heard meanwhile): decode it now
        for segment in settled.finals:
            self.finals.append(segment)
            await self.send(
                {"type": "final", "start": segment.start, "end": segment.end, "text": segment.text}
            )
        if settled.partial != self._partial:
            self._partial = settled.partial
            await self.send({"type": "partial", "text": settled.partial})

    async def _decode(self, start_s: float, stop_s: float) -> list[Segment]:
        first, last = _at(start_s), _at(stop_s)
        self._file.flush()

        def cut() -> None:
            with self.pcm.open("rb") as source:
                self.tail.write_bytes(os.pread(source.fileno(), last - first, first))

        await to_thread.run_sync(cut)
        found = await self.decoder.decode(
            self.tail, timeout=DECODE_TIMEOUT_S, language=self.language
        )
        self.decodings += 1
        # Whisper may time a last word past the stretch's end: kept within it.
        return [
            Segment(
                round(min(start_s + s.start, stop_s), 3),
                round(min(start_s + s.end, stop_s), 3),
                s.text,
            )
            for s in found
        ]

    def _keep(self) -> Recording:
        """The session as a WAV, ingested as an upload. Blocking."""
        try:
            self._file.close()
            if self.received == 0:
                raise Rejected(Rejected.EMPTY_FILE, "the session ended before any audio came")
            staged = self.store.stage(self.settings.max_upload_bytes, to_keep=True)
            try:
                staged.write(wav_header(self.received))
                with self.pcm.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        staged.write(chunk)
            except BaseException:
                staged.discard()
                raise
        finally:
            self.discard()
        name = f"Live {self.began:%Y-%m-%d %H.%M.%S}.wav"
        return self.ingest(staged, name, self.domain, None, self.speakers)


def _at(seconds: float) -> int:
    """The byte offset of a time, on a sample."""
    return 2 * round(seconds * SAMPLE_RATE)


def wav_header(data_bytes: int) -> bytes:
    """A 16 kHz mono 16-bit PCM WAV's 44 bytes before its samples."""
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, BYTES_PER_S, 2, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip
