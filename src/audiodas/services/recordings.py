"""Ingest, read, list and delete recordings, and their webhook deliveries: the rules in one
place, whatever the entry point."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    Order,
    Recording,
    RecordingRepository,
    RecordingStatus,
    Rejected,
    Segment,
    StageName,
    StageStatus,
    StorageFull,
    StoredVariant,
    VariantName,
    VersionPage,
    quoted,
)
from audiodas.domain.audit import LOCAL, Action, AuditEntry
from audiodas.domain.corrections import Correction, apply_corrections, machine_beside
from audiodas.domain.recording import Hold, check_reason, check_retention, check_title
from audiodas.domain.search import SearchPage, parse_query
from audiodas.domain.speakers import check_count, check_names, speakers_of
from audiodas.domain.topics import Topic
from audiodas.domain.transcript import Waveform
from audiodas.domain.webhooks import Delivery, check_target
from audiodas.services.ports import (
    AwaitedReads,
    BlobStore,
    Clock,
    StagedBlob,
    SystemClock,
    WebhookOutbox,
    WorkQueue,
)

_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PAGE = 500
_REMEMBERED_VARIANTS = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class VariantFile:
    path: Path
    content_type: str
    download_name: str
    stat: os.stat_result

    def restat(self) -> VariantFile:
        return replace(self, stat=os.stat(self.path))


@dataclass(frozen=True)
class VariantBlob:
    key: str
    content_type: str
    download_name: str


class RecordingService:
    def __init__(
        self,
        settings: Settings,
        repository: RecordingRepository,
        store: BlobStore,
        probe: Callable[[Path], AudioInfo],
        topics: dict[str, Topic],
        work: WorkQueue,
        measure_waveform: Callable[[Path], Waveform],
        webhooks: WebhookOutbox,
        reads: AwaitedReads,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.repository = repository
        self.reads = reads
        self.store = store
        self.probe = probe
        self.topics = topics
        self.work = work
        self.measure_waveform = measure_waveform
        self.webhooks = webhooks
        self._variant_files: dict[tuple[str, VariantName], VariantFile] = {}

    def ingest(
        self,
        staged: StagedBlob,
        filename: str,
        domain: str | None = None,
        callback_url: str | None = None,
        speakers: str | None = None,
        by: str = LOCAL,
    ) -> Recording:
        """Turn a received file into a stored, queued recording; on any refusal, keep nothing.
        `by`: who uploads it (a key's name, or "local"), for the audit trail.
        `callback_url`: told when it is finished, besides AUDIODAS_WEBHOOK_URLS; `speakers`:
        how many voices it has, if the uploader knows (the form field, as sent).

        Blocking (fsync, probe, SQL): call it from a worker thread in async code.
        """
        recording_id = staged.id
        placed = False
        try:
            domain = self._check_domain(domain)
            callback_url = self._check_callback(callback_url)
            speaker_count = check_count(speakers)
            info = self.check_audio(staged)
            key = self.store.keep(staged, f"{VariantName.ORIGINAL}.{info.extension}")
            placed = True
            recording = Recording.new(
                id=recording_id,
                filename=_clean_filename(filename, info.extension),
                info=info,
                size_bytes=staged.size,
                sha256=staged.sha256,
                now=self.clock.now(),
                retention_days=self.settings.retention_days,
                original_path=key,
                domain=domain,
                callback_url=callback_url,
                speakers=speaker_count,
            )
            uploaded = AuditEntry(
                recording.created_at, by, Action.UPLOAD, recording_id,
                {"filename": recording.filename, "size_bytes": recording.size_bytes,
                 "sha256": recording.sha256, "content_type": recording.content_type},
            )  # fmt: skip
            self.repository.add(
                recording,
                then=lambda transaction: self.work.enqueue(recording_id, transaction),
                audit=uploaded,
            )
        except BaseException:
            staged.discard()
            if placed:
                self.store.delete_recording(recording_id)
            raise
        return recording

    def check_fields(self, domain: str | None, speakers: str | None) -> None:
        """The upload form's rules, for a recording whose audio is still to come (a live
        session): refused before anyone speaks, not after."""
        self._check_domain(domain)
        check_count(speakers)

    def check_audio(self, staged: StagedBlob) -> AudioInfo:
        """The rules every received file meets: not empty, decodable audio, not too long.
        Blocking; the caller discards the file on refusal."""
        staged.close()
        if staged.size == 0:
            raise Rejected(Rejected.EMPTY_FILE, "the uploaded file is empty")
        info = self.probe(staged.path)
        if info.duration_s > self.settings.max_duration_s:
            raise Rejected(
                Rejected.TOO_LONG,
                f"the audio lasts {info.duration_s:.0f} s; "
                f"the limit is {self.settings.max_duration_s:.0f} s",
            )
        return info

    def _check_domain(self, domain: str | None) -> str | None:
        if domain is None or not domain.strip():
            return None
        domain = domain.strip().lower()
        if domain not in self.topics:
            known = ", ".join(sorted(self.topics))
            raise Rejected(
                Rejected.INVALID_FIELD, f"unknown domain {quoted(domain)}; known: {known}"
            )
        return domain

    def _check_callback(self, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        if self.settings.webhook_secret is None:
            raise Rejected(
                Rejected.INVALID_FIELD,
                "callback_url needs the server to sign webhooks (AUDIODAS_WEBHOOK_SECRET)",
            )
        return check_target(url.strip(), allow_private=self.settings.webhook_allow_private)

    def get(self, recording_id: str, *, segments: bool = False) -> Recording:
        return _existing(recording_id, lambda: self.repository.get(recording_id, segments=segments))

    def transcribed(self, recording_id: str, what: str, *, segments: bool = False) -> Recording:
        """The recording, if its transcription is done (409 otherwise: `what` is not ready)."""
        recording = self.get(recording_id, segments=segments)
        stage = recording.stages[StageName.TRANSCRIBE].status
        if stage != StageStatus.DONE:
            raise Rejected(
                Rejected.VARIANT_NOT_READY, f"the {what} is not ready (transcribe stage: {stage})"
            )
        return recording

    def waveform(self, recording_id: str) -> Waveform:
        """Made by transcription; a recording transcribed before waveforms were kept gets its
        own on this first request (one decode of the original, in windows; of the archive copy
        once the original is past its own retention), kept from then on.
        Blocking: call it from a worker thread in async code."""
        recording = self.transcribed(recording_id, "waveform")
        waveform = self.repository.waveform(recording_id)
        if waveform is None:
            waveform = self.measure_waveform(self.store.local_path(recording.source().path))
            self.repository.save_waveform(recording_id, waveform)
        return waveform

    async def version(self, recording_id: str) -> datetime:
        """When the recording last changed (any change moves it)."""
        return await _awaited_existing(recording_id, lambda: self.reads.version(recording_id))

    async def read(self, recording_id: str) -> Recording:
        """As `get` (no segments), awaited: the API's reads of a changed recording."""
        return await _awaited_existing(
            recording_id, lambda: self.reads.get(recording_id, segments=False)
        )

    async def versions(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
        order: Order = Order.NEWEST,
    ) -> VersionPage:
        return await self.reads.versions(
            limit=max(1, min(limit, MAX_PAGE)), cursor=cursor, status=status, order=order
        )

    def search(
        self,
        query: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: RecordingStatus | None = None,
    ) -> SearchPage:
        return self.repository.search(
            parse_query(query), limit=max(1, min(limit, MAX_PAGE)), cursor=cursor, status=status
        )  # fmt: skip

    def remembered_variant_file(self, recording_id: str, name: VariantName) -> VariantFile | None:
        """The variant's file if it was looked up before and is still there (a stat, no query:
        cheap enough for the event loop). Variants never change once produced (fixed names,
        bit-exact stages), so lookups are remembered."""
        key = (recording_id, name)
        found = self._variant_files.get(key)
        if found is None:
            return None
        try:
            return found.restat()
        except FileNotFoundError:  # the recording was deleted, or a scratch copy evicted
            del self._variant_files[key]
            return None

    def variant_file(self, recording_id: str, name: VariantName) -> VariantFile:
        """A produced variant's file, for streaming (from an object store: fetched into the
        scratch cache). Blocking."""
        remembered = self.remembered_variant_file(recording_id, name)
        if remembered is not None:
            return remembered
        found = self._find_variant_file(recording_id, name)
        if len(self._variant_files) >= _REMEMBERED_VARIANTS:
            self._variant_files.pop(next(iter(self._variant_files)))  # the oldest
        self._variant_files[(recording_id, name)] = found
        return found

    def variant_blob(self, recording_id: str, name: VariantName) -> VariantBlob:
        """A produced variant as the store keeps it, for a store that serves its files itself
        (`store.redirects`). Blocking (a query)."""
        found = self._produced_variant(recording_id, name)
        assert found.variant is not None
        return VariantBlob(
            found.variant.path,
            found.variant.content_type,
            _download_name(recording_id, found, name, os.path.splitext(found.variant.path)[1]),
        )

    def _produced_variant(self, recording_id: str, name: VariantName) -> StoredVariant:
        found = _existing(recording_id, lambda: self.repository.find_variant(recording_id, name))
        if found.variant is None and name == VariantName.ORIGINAL:
            removed = self.get(recording_id).original_removed_at
            if removed is not None:
                raise Rejected(
                    Rejected.ORIGINAL_REMOVED,
                    f"the original upload was removed on {removed.isoformat()}, past its own "
                    f"retention (AUDIODAS_ORIGINAL_RETENTION_DAYS); the archive copy is kept",
                )
        if found.variant is None:
            raise Rejected(
                Rejected.VARIANT_NOT_READY,
                f"the '{name}' variant of this recording is not produced yet "
                f"(recording status: {found.status})",
            )
        return found

    def _find_variant_file(self, recording_id: str, name: VariantName) -> VariantFile:
        found = self._produced_variant(recording_id, name)
        assert found.variant is not None
        path = self.store.local_path(found.variant.path)
        try:
            return VariantFile(
                path,
                found.variant.content_type,
                _download_name(recording_id, found, name, path.suffix),
                os.stat(path),
            )
        except FileNotFoundError as exc:
            raise Rejected(
                Rejected.NOT_FOUND, f"the '{name}' file is missing from the store"
            ) from exc

    def retry(self, recording_id: str) -> Recording:
        """Run a failed recording's failed stages again (its done stages are kept)."""
        recording = self.get(recording_id)
        if not self.repository.reopen(
            recording_id,
            self.clock.now(),
            then=lambda transaction: self.work.enqueue(recording_id, transaction),
        ):
            raise Rejected(
                Rejected.NOT_RETRYABLE,
                f"only a failed recording can be retried; this one is {recording.status}",
            )
        return self.get(recording_id)

    def correct(
        self, recording_id: str, corrections: Sequence[Correction], by: str = LOCAL
    ) -> tuple[Recording, list[Segment | None]]:
        """Make a reader's corrections to the transcript (its text and speakers; the machine's
        is kept beside it): the recording as it is now, and beside each segment the machine's
        where they differ. A changed text is summarized again (the recording is queued)."""
        self.transcribed(recording_id, "transcript")
        now = self.clock.now()
        changes = [
            {
                k: v
                for k, v in (("id", c.index), ("text", c.text), ("speaker", c.speaker))
                if v is not None
            }
            for c in corrections
        ]
        entry = AuditEntry(now, by, Action.TRANSCRIPT, recording_id, {"segments": changes})
        _existing(
            recording_id,
            lambda: self.repository.correct(
                recording_id,
                lambda stored, machine: apply_corrections(stored, corrections, machine),
                now,
                then=lambda transaction: self.work.enqueue(recording_id, transaction),
                audit=entry,
            ),
        )
        return self.with_machine(recording_id)

    def with_machine(
        self, recording_id: str, *, so_far: bool = False
    ) -> tuple[Recording, list[Segment | None]]:
        """The transcribed recording with its segments, and beside each one the machine's
        where a reader corrected it. `so_far`: also while it is transcribed, once a first
        window is stored (nothing corrected yet)."""
        if so_far:
            recording = self.get(recording_id, segments=True)
            if (
                recording.transcribed_s
                and recording.stages[StageName.TRANSCRIBE].status != StageStatus.DONE
            ):
                return recording, [None] * len(recording.segments)
        recording = self.transcribed(recording_id, "transcript", segments=True)
        machine = self.repository.machine_segments(recording_id)
        return recording, machine_beside(recording.segments, machine)

    def retitle(self, recording_id: str, title: object, by: str = LOCAL) -> Recording:
        """Give the recording a title (null or empty: none); its filename stays."""
        given, now = check_title(title), self.clock.now()
        entry = AuditEntry(now, by, Action.TITLE, recording_id, {"title": given})
        _existing(
            recording_id,
            lambda: self.repository.save_title(recording_id, given, now, audit=entry) or None,
        )
        return self.get(recording_id)

    def name_speakers(self, recording_id: str, names: dict[str, str], by: str = LOCAL) -> Recording:
        """Give the recording's speaker labels names (an empty name takes a label back); the
        names replace the labels wherever its transcript is shown or exported."""
        recording = self.transcribed(recording_id, "speaker list", segments=True)
        given = check_names(names, speakers_of(recording.segments))
        merged = {**recording.speaker_names, **given}
        merged = {label: name for label, name in merged.items() if name}
        now = self.clock.now()
        entry = AuditEntry(now, by, Action.SPEAKERS, recording_id, {"names": given})
        # Deleted since it was read: the same 404 as any missing recording.
        _existing(
            recording_id,
            lambda: (
                self.repository.save_speaker_names(recording_id, merged, now, audit=entry) or None
            ),
        )
        return replace(recording, speaker_names=merged)

    def deliveries(self, recording_id: str) -> list[Delivery]:
        """The webhook deliveries of the recording's events (none before it is finished)."""
        self.get(recording_id)
        return self.webhooks.of_recording(recording_id)

    def resend(self, recording_id: str, delivery_id: str) -> Delivery:
        """Send one of the recording's deliveries again, now, with its attempts counted afresh."""
        self.get(recording_id)
        found = _ID.match(delivery_id) is not None  # ids are ours: anything else is not one
        delivery = self.webhooks.resend(recording_id, delivery_id) if found else None
        if delivery is None:
            raise Rejected(
                Rejected.NOT_FOUND, f"this recording has no delivery {quoted(delivery_id)}"
            )
        return delivery

    def delete(self, recording_id: str, by: str = LOCAL) -> dict:
        """Delete the recording and its files; the receipt (the recording, each file with its
        size and SHA-256 as stored, when, by whom), which the audit trail keeps."""
        recording = self.get(recording_id)
        now = self.clock.now()
        if recording.hold is not None:
            raise Rejected(
                Rejected.LEGAL_HOLD,
                f"the recording is under a legal hold ({recording.hold.reason}) since "
                f"{recording.hold.since.isoformat()}: release the hold first",
            )
        if recording.under_retention(now):
            raise Rejected(
                Rejected.UNDER_RETENTION,
                f"the archive copy is under legal retention until "
                f"{recording.retention_until.isoformat()}",
            )
        receipt = {
            "recording": {
                "id": recording.id,
                "filename": recording.filename,
                "title": recording.title,
                "created_at": recording.created_at.isoformat(),
                "duration_s": recording.duration_s,
            },
            "files": [
                {"variant": str(v.name), "size_bytes": v.size_bytes, "sha256": v.sha256}
                for v in recording.variants.values()
            ],
            "deleted_at": now.isoformat(),
            "by": by,
        }
        entry = AuditEntry(now, by, Action.DELETE, recording_id, receipt)
        try:
            self.repository.delete(recording_id, audit=entry)
        except StorageFull:
            # The database needs room to record the delete: free the files first. Until the
            # row goes, the recording reads as one whose files are missing.
            self.store.delete_recording(recording_id)
            self.repository.delete(recording_id, audit=entry)
        self.store.delete_recording(recording_id)
        return receipt

    def retain(
        self, recording_id: str, until: object, reason: object = None, by: str = LOCAL
    ) -> Recording:
        """Move the end of the recording's retention: later as asked, earlier with a reason."""
        recording, now = self.get(recording_id), self.clock.now()
        when = check_retention(recording.retention_until, until, reason, now)
        detail = {"from": recording.retention_until.isoformat(), "to": when.isoformat()}
        if reason is not None:
            detail["reason"] = check_reason(reason)
        entry = AuditEntry(now, by, Action.RETENTION, recording_id, detail)
        if not self.repository.set_retention(recording_id, when, now, audit=entry):
            self.get(recording_id)  # 404
        return self.get(recording_id)

    def remove_due_originals(self, limit: int = 100) -> int:
        """Remove the originals past AUDIODAS_ORIGINAL_RETENTION_DAYS (of finished recordings
        with an archive copy and no hold), each recorded in the audit trail with its size and
        SHA-256; how many went. The row first, then the file: a file left by a crash between
        is never served (nothing refers to it) and goes with its recording."""
        days = self.settings.original_retention_days
        if days is None:
            return 0
        now, removed = self.clock.now(), 0
        for recording_id in self.repository.originals_due(now - timedelta(days=days), limit):
            recording = self.repository.get(recording_id, segments=False)
            original = recording.variants.get(VariantName.ORIGINAL) if recording else None
            if original is None:
                continue
            detail = {"size_bytes": original.size_bytes, "sha256": original.sha256,
                      "kept_days": days}  # fmt: skip
            entry = AuditEntry(now, LOCAL, Action.ORIGINAL_REMOVED, recording_id, detail)
            key = self.repository.remove_original(recording_id, now, audit=entry)
            if key is not None:
                self.store.delete(key)
                removed += 1
        return removed

    def hold(self, recording_id: str, reason: object, by: str = LOCAL) -> Recording:
        """Put the recording under a legal hold (again: the new reason replaces the old)."""
        why, now = check_reason(reason), self.clock.now()
        entry = AuditEntry(now, by, Action.HOLD, recording_id, {"reason": why})
        if not self.repository.set_hold(recording_id, Hold(why, now, by), now, audit=entry):
            self.get(recording_id)  # 404
        return self.get(recording_id)

    def release(self, recording_id: str, reason: object, by: str = LOCAL) -> Recording:
        why, now = check_reason(reason), self.clock.now()
        recording = self.get(recording_id)
        if recording.hold is None:
            raise Rejected(Rejected.NOT_HELD, "the recording is under no legal hold")
        detail = {"reason": why, "held_for": recording.hold.reason}
        entry = AuditEntry(now, by, Action.RELEASE, recording_id, detail)
        self.repository.set_hold(recording_id, None, now, audit=entry)
        return self.get(recording_id)


def _download_name(recording_id: str, found: StoredVariant, name: VariantName, suffix: str) -> str:
    """`<upload's name>-<variant><suffix>`; an object store's original has no extension (it was
    named before the audio was probed): the upload's name, cleaned to the probed format, has."""
    stem, extension = os.path.splitext(found.filename)
    return f"{stem or recording_id}-{name}{suffix or extension}"


def _existing(recording_id: str, lookup: Callable[[], T | None]) -> T:
    """What `lookup` finds for a well-formed id; 404 for a malformed id or nothing found."""
    return _found(recording_id, lookup() if _ID.match(recording_id) else None)


async def _awaited_existing(recording_id: str, lookup: Callable[[], Awaitable[T | None]]) -> T:
    """As `_existing`, for a lookup to await (not started for a malformed id)."""
    return _found(recording_id, await lookup() if _ID.match(recording_id) else None)


def _found(recording_id: str, found: T | None) -> T:
    if found is None:
        raise Rejected(Rejected.NOT_FOUND, f"no recording with id {quoted(recording_id)}")
    return found


def _clean_filename(filename: str, extension: str) -> str:
    # Keep the user's name for display only; never used as a path.
    name = Path(filename.replace("\\", "/")).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or f"recording.{extension}"
