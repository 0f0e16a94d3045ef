"""The domain: recordings, their stages and the rules on them. No HTTP, SQL or FFmpeg here."""

from audiodas.domain.access import ApiKey, ApiKeyRepository, Scope
from audiodas.domain.errors import (
    DatabaseUnavailable,
    Rejected,
    StorageFull,
    StoreUnavailable,
    Unavailable,
    quoted,
    unavailable_in,
)
from audiodas.domain.recording import (
    STAGE_NAMES,
    AudioInfo,
    Recording,
    RecordingStatus,
    Stage,
    StageName,
    StageStatus,
    Variant,
    VariantName,
)
from audiodas.domain.repository import (
    Order,
    RecordingRepository,
    StoredVariant,
    VersionPage,
)
from audiodas.domain.transcript import Segment, Transcript

__all__ = [
    "DatabaseUnavailable",
    "StorageFull",
    "StoreUnavailable",
    "Unavailable",
    "unavailable_in",
    "ApiKey",
    "ApiKeyRepository",
    "Scope",
    "STAGE_NAMES",
    "AudioInfo",
    "Recording",
    "RecordingRepository",
    "RecordingStatus",
    "Rejected",
    "Segment",
    "Stage",
    "StageName",
    "StageStatus",
    "StoredVariant",
    "Transcript",
    "Variant",
    "VersionPage",
    "Order",
    "VariantName",
    "quoted",
]
