"""Use cases: what the entry points (API, worker, CLI) ask of the domain and the adapters."""

from audiodas.services.recordings import RecordingService

__all__ = ["RecordingService"]
