"""The JSON shapes of API v1."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from audiodas.domain import Recording, Stage


class StageOut(BaseModel):
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, s: Stage) -> StageOut:
        return cls(
            name=s.name,
            status=s.status,
            started_at=s.started_at,
            finished_at=s.finished_at,
            error=s.error,
        )


class VariantOut(BaseModel):
    content_type: str
    size_bytes: int
    sha256: str
    url: str


class RecordingOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    status: str
    stages: list[StageOut]
    variants: dict[str, VariantOut]
    transcript: str | None
    language: str | None
    summary: str | None
    domain: str | None
    topic: dict | None
    retention_until: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Recording) -> RecordingOut:
        return cls(
            id=r.id,
            filename=r.filename,
            content_type=r.content_type,
            size_bytes=r.size_bytes,
            sha256=r.sha256,
            duration_s=r.duration_s,
            sample_rate=r.sample_rate,
            channels=r.channels,
            status=r.status,
            stages=[StageOut.of(s) for s in r.stages.values()],
            variants={
                v.name: VariantOut(
                    content_type=v.content_type,
                    size_bytes=v.size_bytes,
                    sha256=v.sha256,
                    url=f"/api/v1/recordings/{r.id}/stream?variant={v.name}",
                )
                for v in r.variants.values()
            },
            transcript=r.transcript,
            language=r.language,
            summary=r.summary,
            domain=r.domain,
            topic=r.topic,
            retention_until=r.retention_until,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class RecordingList(BaseModel):
    items: list[RecordingOut]
    next_cursor: str | None


class ErrorOut(BaseModel):
    error: str
    detail: str


ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 409, 413, 415, 416, 422)}
