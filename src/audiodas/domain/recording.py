"""Recordings, their processing stages and the files (variants) made from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from audiodas.domain.errors import Rejected
from audiodas.domain.transcript import Segment


class RecordingStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"  # off topic under the reject policy (its archive is still kept)

    @property
    def finished(self) -> bool:
        return self in (RecordingStatus.DONE, RecordingStatus.FAILED, RecordingStatus.REJECTED)


class StageName(StrEnum):
    ARCHIVE = "archive"
    ECHO = "echo"
    TRANSCRIBE = "transcribe"
    SUMMARIZE = "summarize"


STAGE_NAMES: tuple[StageName, ...] = tuple(StageName)


class StageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class VariantName(StrEnum):
    ORIGINAL = "original"
    ARCHIVE = "archive"  # AAC in MP4 (.m4a): the legal copy
    ECHO = "echo"  # echo-filtered MP3


@dataclass(frozen=True)
class AudioInfo:
    """What probing an audio file tells."""

    format_name: str
    content_type: str
    extension: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int


@dataclass
class Stage:
    name: StageName
    status: StageStatus = StageStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    attempts: int = 0

    def as_dict(self) -> dict:
        """What clients see of a stage (API responses and progress events)."""
        return {
            "name": self.name.value,
            "status": self.status.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "attempts": self.attempts,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class Variant:
    """One stored file of a recording. `path` is relative to the data folder."""

    name: VariantName
    path: str
    content_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Hold:
    """A legal hold: the recording is kept, whatever its retention says, until released."""

    reason: str
    since: datetime
    by: str  # the key's name, or "local"

    def as_dict(self) -> dict:
        return {"reason": self.reason, "since": self.since.isoformat(), "by": self.by}


MAX_REASON = 500


def check_reason(reason: object) -> str:
    """Why a hold is set or released: one line of printable text, 1 to MAX_REASON characters."""
    if not isinstance(reason, str):
        raise Rejected(Rejected.INVALID_REQUEST, 'say why: {"reason": "..."}')
    if len(reason) > MAX_REASON:  # as sent: what the OpenAPI document promises to refuse
        raise Rejected(Rejected.INVALID_FIELD, f"a reason has at most {MAX_REASON} characters")
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in reason).split())
    if not cleaned:
        raise Rejected(Rejected.INVALID_REQUEST, 'say why: {"reason": "..."}')
    return cleaned


def check_retention(current: datetime, until: object, reason: object, now: datetime) -> datetime:
    """A new end of retention: later than the current one as asked; earlier only with a
    reason (what shortens a legal retention must be explained), and never before now."""
    if not isinstance(until, str):
        raise Rejected(Rejected.INVALID_REQUEST, 'the body is {"until": "<date>", "reason": ...}')
    try:
        when = datetime.fromisoformat(until)
    except ValueError:
        raise Rejected(
            Rejected.INVALID_FIELD, f"'until' is not an ISO 8601 date: {until!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=current.tzinfo)
    if when < current:
        if reason is None:
            raise Rejected(
                Rejected.INVALID_REQUEST,
                'shortening a retention needs a reason: {"until": ..., "reason": "..."}',
            )
        check_reason(reason)
        if when < now:
            raise Rejected(Rejected.INVALID_FIELD, "a retention cannot end in the past")
    return when


@dataclass
class Recording:
    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    created_at: datetime
    updated_at: datetime
    retention_until: datetime
    status: RecordingStatus = RecordingStatus.QUEUED
    domain: str | None = None
    transcript: str | None = None
    language: str | None = None
    summary: str | None = None
    segments: list[Segment] = field(default_factory=list)
    topic: dict | None = None  # TopicVerdict.as_dict() when a domain was given
    callback_url: str | None = None  # told when finished (domain/webhooks.py)
    speakers: int | None = None  # how many voices, if the upload said (domain/speakers.py)
    speaker_names: dict[str, str] = field(default_factory=dict)  # S1 -> a name users gave
    title: str | None = None  # what users call it (the filename stays as uploaded)
    # The transcript's speaker labels in order of first appearance (speakers.speakers_of), kept
    # beside it so a list shows them without reading any transcript.
    speakers_heard: list[str] = field(default_factory=list)
    # How much of the audio a transcription under way has stored (seconds from the start);
    # None when none is under way. Its text so far is `transcript`, until the stage is done.
    transcribed_s: float | None = None
    hold: Hold | None = None  # a legal hold, while it stands
    # When the original upload was removed (AUDIODAS_ORIGINAL_RETENTION_DAYS); the archive stays.
    original_removed_at: datetime | None = None
    stages: dict[StageName, Stage] = field(default_factory=dict)
    variants: dict[VariantName, Variant] = field(default_factory=dict)

    def source(self) -> Variant:
        """The audio to work from: the original, or once it is past its own retention the
        archive copy (a failed stage retried later, a waveform measured late)."""
        return self.variants.get(VariantName.ORIGINAL) or self.variants[VariantName.ARCHIVE]

    def transcript_progress(self) -> tuple[float, float]:
        """How much of the audio is transcribed, and of how much (seconds)."""
        if self.stages[StageName.TRANSCRIBE].status == StageStatus.DONE:
            return self.duration_s, self.duration_s
        return min(self.transcribed_s or 0.0, self.duration_s), self.duration_s

    @classmethod
    def new(
        cls,
        *,
        id: str,
        filename: str,
        info: AudioInfo,
        size_bytes: int,
        sha256: str,
        now: datetime,
        retention_days: int,
        original_path: str,
        domain: str | None = None,
        callback_url: str | None = None,
        speakers: int | None = None,
    ) -> Recording:
        return cls(
            id=id,
            filename=filename,
            content_type=info.content_type,
            size_bytes=size_bytes,
            sha256=sha256,
            duration_s=info.duration_s,
            sample_rate=info.sample_rate,
            channels=info.channels,
            created_at=now,
            updated_at=now,
            retention_until=now + timedelta(days=retention_days),
            domain=domain,
            callback_url=callback_url,
            speakers=speakers,
            stages={name: Stage(name) for name in STAGE_NAMES},
            variants={
                VariantName.ORIGINAL: Variant(
                    VariantName.ORIGINAL, original_path, info.content_type, size_bytes, sha256
                )
            },
        )

    def settled_status(self, reject_off_topic: bool = False) -> RecordingStatus:
        """The status the stages add up to: done when all are (rejected instead when off topic
        under the reject policy), failed when any failed and nothing is left to run,
        processing otherwise."""
        states = {stage.status for stage in self.stages.values()}
        if states == {StageStatus.DONE}:
            if reject_off_topic and self.topic is not None and not self.topic["on_topic"]:
                return RecordingStatus.REJECTED
            return RecordingStatus.DONE
        if StageStatus.FAILED in states and not states & {StageStatus.PENDING, StageStatus.RUNNING}:
            return RecordingStatus.FAILED
        if states == {StageStatus.PENDING}:
            return (
                self.status if self.status == RecordingStatus.QUEUED else RecordingStatus.PROCESSING
            )
        return RecordingStatus.PROCESSING

    @property
    def held_until(self) -> datetime | None:
        """Until when the recording must be kept: its archive copy's legal retention. None
        when its archive stage failed and there is no copy to keep (a retry would make one)."""
        if (
            self.stages[StageName.ARCHIVE].status == StageStatus.FAILED
            and VariantName.ARCHIVE not in self.variants
        ):
            return None
        return self.retention_until

    def under_retention(self, now: datetime) -> bool:
        return self.held_until is not None and now < self.held_until


MAX_TITLE = 200


def check_title(title: object) -> str | None:
    """A title as given: one line of printable text, at most `MAX_TITLE` characters; an empty
    one (or null) takes the title away."""
    if title is not None and not isinstance(title, str):
        raise Rejected(Rejected.INVALID_REQUEST, 'a title is text (or null): {"title": "..."}')
    cleaned = " ".join(
        "".join(ch for ch in title or "" if ch.isprintable() or ch.isspace()).split()
    )
    if len(cleaned) > MAX_TITLE:
        raise Rejected(Rejected.INVALID_FIELD, f"a title has at most {MAX_TITLE} characters")
    return cleaned or None
