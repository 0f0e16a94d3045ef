"""AudioDAS: ingest, archive, transcribe, summarize and stream audio recordings."""

from audiodas.config import Settings
from audiodas.domain import (
    AudioInfo,
    Recording,
    RecordingStatus,
    Rejected,
    Stage,
    StageName,
    StageStatus,
    Variant,
)

__version__ = "0.1.0"

__all__ = [
    "AudioInfo",
    "Recording",
    "RecordingStatus",
    "Rejected",
    "Settings",
    "Stage",
    "StageName",
    "StageStatus",
    "Variant",
    "__version__",
]
