"""One recording through its stages: three branches in parallel, each saving its result as
soon as it is done, each retried on failure without touching the others.

    archive ──────────────── (FFmpeg slot)   AAC in MP4: the legal copy
    echo ─────────────────── (FFmpeg slot)   aecho + MP3
    transcribe ─► summarize  (AI slot each)  Whisper, then ≤ 50 characters
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from audiodas.config import Settings
from audiodas.domain import (
    Recording,
    RecordingRepository,
    RecordingStatus,
    Stage,
    StageName,
    StageStatus,
    Transcript,
    Variant,
    VariantName,
    unavailable_in,
    webhooks,
)
from audiodas.domain.topics import Topic, score
from audiodas.domain.transcript import TranscribedWindow
from audiodas.domain.webhooks import Delivery
from audiodas.metrics import Metrics
from audiodas.services.ports import (
    STAGE,
    STATUS,
    TRANSCRIPT,
    BlobStore,
    Clock,
    Encoder,
    EventBus,
    Inference,
    SystemClock,
)
from audiodas.slots import Slots

log = logging.getLogger("audiodas.engine")


@dataclass
class StageOutput:
    variant: Variant | None = None
    transcript: Transcript | None = None
    topic: dict | None = None
    summary: str | None = None


@dataclass(frozen=True)
class _Encoding:
    variant: VariantName
    suffix: str
    content_type: str


_ENCODINGS = {
    StageName.ARCHIVE: _Encoding(VariantName.ARCHIVE, ".m4a", "audio/mp4"),
    StageName.ECHO: _Encoding(VariantName.ECHO, ".mp3", "audio/mpeg"),
}


class StageFailed(Exception):
    """A stage cannot run at all (e.g. its input failed); not worth a retry."""


class RecordingGone(Exception):
    """The recording was deleted while it was processed: its work stops, its products go."""


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        repository: RecordingRepository,
        store: BlobStore,
        ai: Inference,
        encoder: Encoder,
        topics: dict[str, Topic],
        metrics: Metrics,
        ffmpeg_slots: Slots,
        events: EventBus,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.store = store
        self.ai = ai
        self.encoder = encoder
        self.topics = topics
        self.metrics = metrics
        self.ffmpeg_slots = ffmpeg_slots
        self.events = events
        self.clock = clock or SystemClock()  # stage times and the back-off

    async def process(self, recording_id: str) -> Recording | None:
        recording = await asyncio.to_thread(self.repository.get, recording_id)
        if recording is None or recording.status.finished:
            return recording
        await self._set_status(recording_id, RecordingStatus.PROCESSING)
        # A branch raises when the machine fails (database, disk): then the others stop too
        # and the whole recording goes back to the queue; or when the recording is deleted
        # meanwhile: then the others stop and what they wrote is removed (a DELETE may have
        # removed the folder before a branch put its product there).
        gone = False
        try:
            async with asyncio.TaskGroup() as branches:
                branches.create_task(self._encode(recording, StageName.ARCHIVE))
                branches.create_task(self._encode(recording, StageName.ECHO))
                branches.create_task(self._speech(recording))
        except* RecordingGone:
            gone = True
        if gone:
            await asyncio.to_thread(self.store.delete_recording, recording_id)
            log.info("recording %s deleted while processed: its work stopped", recording_id)
            return None
        recording = await asyncio.to_thread(self.repository.get, recording_id)
        if recording is not None:
            recording.status = recording.settled_status(
                reject_off_topic=self.settings.domain_policy == "reject"
            )
            events = webhooks.deliveries(
                recording,
                self.clock.now(),
                urls=self.settings.webhook_urls,
                base=self.settings.public_url,
            )
            await self._set_status(recording_id, recording.status, events)
            log.info("recording %s %s", recording_id, recording.status)
        return recording

    # Branches -------------------------------------------------------------------------------

    async def _encode(self, recording: Recording, name: StageName) -> bool:
        encoding = _ENCODINGS[name]
        done = recording.variants.get(encoding.variant)
        if _is_done(recording, name) and done and self._stored(done.path):
            return True

        async def work() -> StageOutput:
            source = self.store.local_path(recording.source().path)
            target = self.store.scratch(encoding.suffix)
            try:
                sha256, size = await self.encoder.encode(
                    encoding.variant,
                    source,
                    target,
                    channels=recording.channels,
                    timeout=60 + recording.duration_s,
                )
                path = await asyncio.to_thread(
                    self.store.put, target, recording.id, f"{encoding.variant}{encoding.suffix}"
                )
            finally:
                target.unlink(missing_ok=True)
            return StageOutput(
                variant=Variant(encoding.variant, path, encoding.content_type, size, sha256)
            )

        return await self._run_stage(recording, name, self.ffmpeg_slots, work)

    async def _speech(self, recording: Recording) -> None:
        transcript: Transcript | None = None
        if _is_done(recording, StageName.TRANSCRIBE):
            transcript = Transcript(
                recording.transcript or "", recording.language, recording.segments
            )
        else:
            source = self.store.local_path(recording.source().path)

            async def transcribe() -> StageOutput:
                nonlocal transcript
                # Word times cost nothing measurable (2.4 s either way for 44 s of speech) and
                # let a reader click a word to hear it.
                transcript = await self.ai.transcribe(
                    source,
                    timeout=self._ai_timeout(recording),
                    word_timestamps=True,
                    diarize=self.settings.diarize,
                    speakers=recording.speakers,
                    done=await asyncio.to_thread(self._transcribed_so_far, recording.id),
                    on_window=lambda window: self._store_window(recording, window),
                )
                topic = self.topics.get(recording.domain or "")
                recording.topic = score(topic, transcript.text).as_dict() if topic else None
                return StageOutput(transcript=transcript, topic=recording.topic)

            if not await self._run_stage(
                recording, StageName.TRANSCRIBE, self.ai.slots, transcribe
            ):
                transcript = None

        if _is_done(recording, StageName.SUMMARIZE):
            return

        async def summarize() -> StageOutput:
            if transcript is None:
                raise StageFailed("no transcript to summarize: transcription failed")
            if not transcript.text:
                return StageOutput(summary=None)  # speechless audio: no summary, no error
            summary = await self.ai.summarize(transcript.text, timeout=self._ai_timeout(recording))
            return StageOutput(summary=summary)

        await self._run_stage(recording, StageName.SUMMARIZE, self.ai.slots, summarize)

    def _transcribed_so_far(self, recording_id: str) -> TranscribedWindow | None:
        """What an interrupted transcription stored (its windows are not transcribed again)."""
        found = self.repository.get(recording_id)
        if found is None or not found.transcribed_s:
            return None
        words = self.repository.words(recording_id)
        log.info("recording %s: transcription resumes at %.1f s", recording_id, found.transcribed_s)
        return TranscribedWindow(0.0, found.transcribed_s, found.language, found.segments, words)

    async def _store_window(self, recording: Recording, window: TranscribedWindow) -> None:
        """A window's text, readable (and searchable) at once; told to those following."""
        now = self.clock.now()
        if not await asyncio.to_thread(self.repository.save_window, recording.id, window, now):
            raise RecordingGone(recording.id)
        log.info(
            "recording %s: transcribed %.1f-%.1f s of %.1f",
            recording.id, window.start_s, window.end_s, recording.duration_s,
        )  # fmt: skip
        self.events.publish({
            "type": TRANSCRIPT, "id": recording.id, "start_s": window.start_s,
            "done_s": window.end_s, "total_s": recording.duration_s,
        })  # fmt: skip

    # One stage, with retries ----------------------------------------------------------------

    async def _run_stage(
        self,
        recording: Recording,
        name: StageName,
        slots: Slots,
        work: Callable[[], Awaitable[StageOutput]],
    ) -> bool:
        stage = recording.stages[name]
        retries = self.settings.stage_retries
        for attempt in range(retries + 1):
            try:
                async with slots.hold():
                    stage.status, stage.error = StageStatus.RUNNING, None
                    stage.started_at, stage.finished_at = self.clock.now(), None
                    stage.attempts += 1
                    if not await self._save(recording, stage):
                        raise RecordingGone(recording.id)
                    began = time.perf_counter()
                    output = await work()
                stage.status, stage.finished_at = StageStatus.DONE, self.clock.now()
                if not await self._save(recording, stage, output):
                    raise RecordingGone(recording.id)
                self.metrics.stage_seconds.labels(name).observe(time.perf_counter() - began)
                return True
            except asyncio.CancelledError:
                # Interrupted (shutdown): leave it for the next start, not failed.
                stage.status, stage.started_at = StageStatus.PENDING, None
                await asyncio.shield(self._save(recording, stage))
                raise
            except RecordingGone:
                raise
            except Exception as exc:  # noqa: BLE001 - any other failure is the stage's
                if unavailable_in(exc) is not None:
                    raise  # the machine's, not the stage's: no attempt is spent on it
                error = _readable(exc)
                final = isinstance(exc, StageFailed) or attempt == retries
                log.warning(
                    "stage %s of %s failed (attempt %d): %s", name, recording.id, attempt + 1, error
                )
                stage.error = error
                if final:
                    stage.status, stage.finished_at = StageStatus.FAILED, self.clock.now()
                    await self._save(recording, stage)
                    self.metrics.stage_failures.labels(name).inc()
                    return False
                await self._save(recording, stage)
                await self.clock.sleep(self.settings.retry_backoff_s * 2**attempt)
        return False

    async def _save(
        self, recording: Recording, stage: Stage, output: StageOutput | None = None
    ) -> bool:
        """False if the recording is gone."""
        output = output or StageOutput()
        saved = await asyncio.to_thread(
            self.repository.save_stage,
            recording.id,
            stage,
            variant=output.variant,
            transcript=output.transcript,
            topic=output.topic,
            summary=output.summary,
            now=self.clock.now(),
        )
        self.events.publish({"type": STAGE, "id": recording.id, "stage": stage.as_dict()})
        return saved

    async def _set_status(
        self, recording_id: str, status: RecordingStatus, deliveries: Sequence[Delivery] = ()
    ) -> None:
        """The new status and, if it finishes the recording, its webhook events, together."""
        await asyncio.to_thread(
            self.repository.set_status,
            recording_id,
            status,
            self.clock.now(),
            deliveries=deliveries,
        )
        self.events.publish({"type": STATUS, "id": recording_id, "status": status.value})

    def _stored(self, key: str) -> bool:
        try:
            self.store.stat(key)
        except FileNotFoundError:
            return False
        return True

    def _ai_timeout(self, recording: Recording) -> float:
        # Defaults allow a machine 20 times slower than tiny.en's 10-30x real time here.
        return self.settings.inference_timeout(recording.duration_s)


def _is_done(recording: Recording, name: StageName) -> bool:
    return recording.stages[name].status == StageStatus.DONE


def _readable(exc: BaseException) -> str:
    """One line for the API: whatever more there is goes to the log."""
    text = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."
